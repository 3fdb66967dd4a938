//! The engine's event bus: every operation publishes a Docker event
//! (`GET /events`), kept in a ring of recent events for `since` replays
//! and broadcast to live subscribers.
//!
//! Messages are built as dockerd 20.10 builds them: container events carry
//! the container's labels, then `image` and `name` (overriding labels of the
//! same key); container and image events also fill the legacy `status`,
//! `id` and `from` fields.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use berth_spec::api::{Event, EventActor, ImageDeleteItem};
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::container::Container;
use crate::error::{EngineError, Result};
use crate::Engine;

/// How many past events are kept for `since` replays, as many as dockerd.
pub const EVENTS_KEPT: usize = 256;

/// Capacity of the live channel; a subscriber that falls further behind
/// skips events (as dockerd drops events for slow subscribers).
const CHANNEL_CAPACITY: usize = 1024;

/// Event types (`Type`).
pub mod kind {
    /// Container events.
    pub const CONTAINER: &str = "container";
    /// Image events.
    pub const IMAGE: &str = "image";
}

/// Publish/subscribe hub of engine events with a ring of recent ones.
pub struct EventBus {
    ring: Mutex<VecDeque<Event>>,
    tx: broadcast::Sender<Event>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").finish_non_exhaustive()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

/// A subscription: the past events asked for, then the live ones.
pub struct Subscription {
    /// Events from the ring between `since` and `until`, oldest first.
    pub past: Vec<Event>,
    /// Events published after the subscription (unfiltered).
    pub live: broadcast::Receiver<Event>,
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventBus {
            ring: Mutex::new(VecDeque::with_capacity(EVENTS_KEPT)),
            tx,
        }
    }

    fn ring(&self) -> MutexGuard<'_, VecDeque<Event>> {
        match self.ring.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Publish an event of `kind` now, filling the legacy fields as dockerd does.
    pub fn log(&self, kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let ev = build_event(kind, action, id, attributes, Utc::now());
        self.publish(ev);
    }

    /// Publish a complete event (kept in the ring, sent to subscribers).
    pub fn publish(&self, ev: Event) {
        let mut ring = self.ring();
        if ring.len() == EVENTS_KEPT {
            ring.pop_front();
        }
        ring.push_back(ev.clone());
        // Sent under the ring's lock so that a subscriber sees every event
        // exactly once, either in its replay or on its channel.
        let _ = self.tx.send(ev);
    }

    /// Subscribe: past events with `since <= timeNano <= until` (none when
    /// both are absent, as dockerd) matching `filter`, plus the live channel.
    pub fn subscribe(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        filter: &EventFilter,
    ) -> Subscription {
        let ring = self.ring();
        let past = if since.is_none() && until.is_none() {
            Vec::new()
        } else {
            let since = since.unwrap_or(0);
            ring.iter()
                .filter(|e| e.time_nano >= since)
                .filter(|e| until.is_none_or(|u| e.time_nano <= u))
                .filter(|e| filter.matches(e))
                .cloned()
                .collect()
        };
        let live = self.tx.subscribe();
        drop(ring);
        Subscription { past, live }
    }
}

/// Build a message as dockerd's `events.Log` does.
pub fn build_event(
    kind: &str,
    action: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Event {
    let (status, legacy_id, from) = match kind {
        kind::CONTAINER => (
            Some(action.to_string()),
            Some(id.to_string()).filter(|s| !s.is_empty()),
            attributes.get("image").filter(|s| !s.is_empty()).cloned(),
        ),
        kind::IMAGE => (
            Some(action.to_string()),
            Some(id.to_string()).filter(|s| !s.is_empty()),
            None,
        ),
        _ => (None, None, None),
    };
    Event {
        status,
        id: legacy_id,
        from,
        kind: kind.to_string(),
        action: action.to_string(),
        actor: EventActor {
            id: id.to_string(),
            attributes,
        },
        scope: "local".to_string(),
        time: now.timestamp(),
        time_nano: now.timestamp_nanos_opt().unwrap_or(i64::MAX),
    }
}

/// The `filters` of `GET /events`, matched as dockerd's events filter does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    fields: BTreeMap<String, Vec<String>>,
}

/// Keys matched by ID or `name` attribute prefix (dockerd's `fuzzyMatchName`).
const NAME_KEYS: &[&str] = &[
    "daemon",
    "container",
    "plugin",
    "volume",
    "network",
    "service",
    "node",
    "secret",
    "config",
];

impl EventFilter {
    /// A filter from decoded `filters` (`key -> values`); unknown keys are
    /// ignored, as dockerd ignores them.
    pub fn new(fields: BTreeMap<String, Vec<String>>) -> Self {
        let fields = fields.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        EventFilter { fields }
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.fields.get(key).map(Vec::as_slice)
    }

    /// True when `key` is absent or one of its values equals `source`.
    fn exact(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vals| vals.iter().any(|v| v == source))
    }

    /// True when `key` is absent or one of its values is a prefix of `source`.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vals| vals.iter().any(|v| source.starts_with(v.as_str())))
    }

    fn fuzzy_name(&self, key: &str, ev: &Event) -> bool {
        let name = ev
            .actor
            .attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or("");
        self.fuzzy(key, &ev.actor.id) || self.fuzzy(key, name)
    }

    fn match_action(&self, ev: &Event) -> bool {
        let fuzzy = self.values("event").is_some_and(|vals| {
            vals.iter()
                .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"))
        });
        if fuzzy {
            self.fuzzy("event", &ev.action)
        } else {
            self.exact("event", &ev.action)
        }
    }

    fn match_image(&self, ev: &Event) -> bool {
        let attr = if ev.kind == kind::IMAGE {
            "name"
        } else {
            "image"
        };
        let name = ev
            .actor
            .attributes
            .get(attr)
            .map(String::as_str)
            .unwrap_or("");
        let id = ev.actor.id.as_str();
        self.exact("image", id)
            || self.exact("image", name)
            || self.exact("image", &strip_tag(id))
            || self.exact("image", &strip_tag(name))
    }

    fn match_labels(&self, attrs: &BTreeMap<String, String>) -> bool {
        let Some(vals) = self.values("label") else {
            return true;
        };
        if attrs.is_empty() {
            return false;
        }
        vals.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => attrs.get(k).is_some_and(|have| have == want),
            None => attrs.contains_key(v.as_str()),
        })
    }

    /// Whether `ev` passes every filter.
    pub fn matches(&self, ev: &Event) -> bool {
        self.match_action(ev)
            && self.exact("type", &ev.kind)
            && self.exact("scope", &ev.scope)
            && NAME_KEYS.iter().all(|k| self.fuzzy_name(k, ev))
            && self.match_image(ev)
            && self.match_labels(&ev.actor.attributes)
    }
}

/// The familiar name of an image reference without its tag or digest
/// (dockerd's `stripTag`); the input when it does not parse.
fn strip_tag(image: &str) -> String {
    match berth_spec::reference::Reference::parse_normalized(image) {
        Ok(r) => r.familiar_name(),
        Err(_) => image.to_string(),
    }
}

/// Parse `since`/`until` of `GET /events` into Unix nanoseconds: Unix
/// seconds with an optional fraction (what dockerd accepts), and also
/// RFC 3339 times and Go durations before `now` (`10m`, `1h30m`), which
/// the docker CLI would have converted. Empty means absent.
pub fn parse_event_time(value: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(t) = crate::parse_api_time(v) {
        return Ok(Some(t.timestamp_nanos_opt().unwrap_or(i64::MAX)));
    }
    if let Some(d) = parse_go_duration(v) {
        let nanos = now.timestamp_nanos_opt().unwrap_or(i64::MAX);
        return Ok(Some(nanos.saturating_sub(d)));
    }
    Err(EngineError::invalid(format!(
        "failed to parse value as time or duration: {value:?}"
    )))
}

/// A Go `time.ParseDuration` string (`1h2m3.5s`, `-10m`, `300ms`) in
/// nanoseconds; `None` when it is not one (see
/// [`berth_spec::goduration::parse_go_duration`]).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    berth_spec::goduration::parse_go_duration(s).ok()
}

impl Engine {
    /// The engine's event bus.
    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    /// Publish a container event for `c` with `extra` attributes (labels,
    /// `image` and `name` are added as dockerd adds them).
    pub(crate) fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let rec = c.snapshot();
        self.log_container_record(&rec, action, extra);
    }

    /// Publish a container event from a record.
    pub(crate) fn log_container_record(
        &self,
        rec: &crate::ContainerRecord,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut attrs: BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if let Some(labels) = &rec.config.labels {
            for (k, v) in labels {
                attrs.insert(k.clone(), v.clone());
            }
        }
        if !rec.config.image.is_empty() {
            attrs.insert("image".into(), rec.config.image.clone());
        }
        attrs.insert("name".into(), rec.name.clone());
        self.bus.log(kind::CONTAINER, action, &rec.id, attrs);
    }

    /// Publish a container event by container name or ID (for callers
    /// outside the engine: the API layer's `attach`, `detach` and
    /// `exec_detach`). `extra` attributes are added to the container's
    /// labels, `image` and `name`. Fails when there is no such container.
    pub fn log_container_event(
        &self,
        name_or_id: &str,
        action: &str,
        extra: &[(&str, String)],
    ) -> Result<()> {
        let c = self.lookup(name_or_id)?;
        self.container_event(&c, action, extra);
        Ok(())
    }

    /// Publish an image event; `name` is the `name` attribute (a reference
    /// for `tag`, the image ID for `import`, `untag`, `delete`, `load`,
    /// `save`, as dockerd sends them).
    pub fn log_image_event(&self, id: &str, name: &str, action: &str) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), name.to_string());
        self.bus.log(kind::IMAGE, action, id, attrs);
    }

    /// `tag`: `reference` (as given: `foo`, `foo:1`) now names image `id`;
    /// the event's `name` is its familiar form with the default tag.
    pub fn log_tag(&self, id: &str, reference: &str) {
        self.log_image_event(id, &familiar_tagged(reference), "tag");
    }

    /// `untag` per removed reference and `delete` when image `id` itself
    /// was deleted, from the answer of an image removal.
    pub(crate) fn log_image_removal(&self, id: Option<&str>, items: &[ImageDeleteItem]) {
        let Some(id) = id else { return };
        for item in items {
            if item.untagged.is_some() {
                self.log_image_event(id, id, "untag");
            }
        }
        if items.iter().any(|i| i.deleted.as_deref() == Some(id)) {
            self.log_image_event(id, id, "delete");
        }
    }

    /// `tag` (when `reference` is given) then the container's `commit`
    /// event with `comment`, `imageID` and `imageRef`, as dockerd.
    pub(crate) fn log_commit(
        &self,
        c: &Container,
        image_id: &str,
        reference: Option<&str>,
        comment: &str,
    ) {
        let mut extra = vec![
            ("comment", comment.to_string()),
            ("imageID", image_id.to_string()),
        ];
        if let Some(r) = reference {
            self.log_tag(image_id, r);
            extra.push(("imageRef", familiar_tagged(r)));
        }
        self.container_event(c, "commit", &extra);
    }

    /// `prune` of `kind` (container or image) with the `reclaimed` bytes.
    pub(crate) fn log_prune(&self, kind: &str, reclaimed: u64) {
        let mut attrs = BTreeMap::new();
        attrs.insert("reclaimed".to_string(), reclaimed.to_string());
        self.bus.log(kind, "prune", "", attrs);
    }

    /// `oom`: the kernel killed a process of the container for memory (call
    /// once per OOM kill seen, before the `die` of a killed init).
    pub fn log_oom(&self, name_or_id: &str) -> Result<()> {
        self.log_container_event(name_or_id, "oom", &[])
    }

    /// `pause`: call after the container's cgroup is frozen.
    pub fn log_pause(&self, name_or_id: &str) -> Result<()> {
        self.log_container_event(name_or_id, "pause", &[])
    }

    /// `unpause`: call after the container's cgroup is thawed.
    pub fn log_unpause(&self, name_or_id: &str) -> Result<()> {
        self.log_container_event(name_or_id, "unpause", &[])
    }

    /// `exec_create: CMD ARGS`: dockerd's action is `exec_create: ` followed
    /// by the command and its arguments joined by spaces; `execID` attribute.
    pub fn log_exec_create(&self, name_or_id: &str, exec_id: &str, cmd: &[String]) -> Result<()> {
        let action = format!("exec_create: {}", exec_command_line(cmd));
        self.log_container_event(name_or_id, &action, &[("execID", exec_id.to_string())])
    }

    /// `exec_start: CMD ARGS` (same action text as [`Engine::log_exec_create`]).
    pub fn log_exec_start(&self, name_or_id: &str, exec_id: &str, cmd: &[String]) -> Result<()> {
        let action = format!("exec_start: {}", exec_command_line(cmd));
        self.log_container_event(name_or_id, &action, &[("execID", exec_id.to_string())])
    }

    /// `exec_die` with `execID` and `exitCode`.
    pub fn log_exec_die(&self, name_or_id: &str, exec_id: &str, exit_code: i64) -> Result<()> {
        self.log_container_event(
            name_or_id,
            "exec_die",
            &[
                ("execID", exec_id.to_string()),
                ("exitCode", exit_code.to_string()),
            ],
        )
    }

    /// `resize` with `height` and `width`.
    pub fn log_resize(&self, name_or_id: &str, height: u32, width: u32) -> Result<()> {
        self.log_container_event(
            name_or_id,
            "resize",
            &[("height", height.to_string()), ("width", width.to_string())],
        )
    }
}

/// `foo` -> `foo:latest`, `docker.io/library/foo:1` -> `foo:1`; the
/// input when it does not parse.
fn familiar_tagged(reference: &str) -> String {
    match berth_spec::reference::Reference::parse_normalized(reference) {
        Ok(r) if r.digest().is_some() => r.familiar_string(),
        Ok(r) => r.with_default_tag().familiar_string(),
        Err(_) => reference.to_string(),
    }
}

/// dockerd's exec action suffix: the entrypoint then each argument, each
/// followed by nothing but separated by a space (`"/bin/true "` for no args).
fn exec_command_line(cmd: &[String]) -> String {
    match cmd.split_first() {
        Some((first, args)) => format!("{first} {}", args.join(" ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        build_event(kind, action, id, attrs, Utc::now())
    }

    fn filter(pairs: &[(&str, &str)]) -> EventFilter {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        EventFilter::new(m)
    }

    #[test]
    fn legacy_fields_like_dockerd() {
        let e = ev(
            "container",
            "start",
            "abc",
            &[("image", "busybox"), ("name", "x")],
        );
        let v = serde_json::to_string(&e).unwrap();
        assert!(
            v.starts_with(r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"x"}},"scope":"local","time":"#),
            "{v}"
        );
        let i = ev("image", "tag", "sha256:1", &[("name", "a:b")]);
        let v = serde_json::to_value(&i).unwrap();
        assert_eq!(v["status"], "tag");
        assert!(v.get("from").is_none());
        let n = ev("network", "connect", "n1", &[]);
        let v = serde_json::to_value(&n).unwrap();
        assert!(v.get("status").is_none() && v.get("id").is_none());
    }

    #[test]
    fn filters_match_as_dockerd() {
        let start = ev(
            "container",
            "start",
            "7b329a0000",
            &[("image", "busybox:1"), ("name", "web"), ("foo", "bar")],
        );
        let tag = ev("image", "tag", "sha256:aa", &[("name", "busybox:2")]);
        assert!(filter(&[]).matches(&start));
        assert!(filter(&[("type", "container")]).matches(&start));
        assert!(!filter(&[("type", "container")]).matches(&tag));
        assert!(filter(&[("event", "start"), ("event", "die")]).matches(&start));
        assert!(!filter(&[("event", "sta")]).matches(&start));
        assert!(filter(&[("container", "web")]).matches(&start));
        assert!(filter(&[("container", "7b3")]).matches(&start));
        assert!(!filter(&[("container", "other")]).matches(&start));
        assert!(!filter(&[("container", "web")]).matches(&tag));
        assert!(filter(&[("image", "busybox")]).matches(&start));
        assert!(filter(&[("image", "busybox:1")]).matches(&start));
        assert!(filter(&[("image", "busybox")]).matches(&tag));
        assert!(!filter(&[("image", "alpine")]).matches(&tag));
        assert!(filter(&[("label", "foo")]).matches(&start));
        assert!(filter(&[("label", "foo=bar")]).matches(&start));
        assert!(!filter(&[("label", "foo=baz")]).matches(&start));
        assert!(!filter(&[("label", "foo")]).matches(&tag));
        assert!(!filter(&[("volume", "v")]).matches(&start));
        assert!(!filter(&[("network", "n")]).matches(&start));
        assert!(filter(&[("scope", "local")]).matches(&start));
    }

    #[test]
    fn exec_events_match_fuzzily() {
        let e = ev(
            "container",
            "exec_start: /bin/true ",
            "c1",
            &[("name", "x")],
        );
        assert!(filter(&[("event", "exec_start")]).matches(&e));
        assert!(!filter(&[("event", "exec_die")]).matches(&e));
        assert_eq!(exec_command_line(&["/bin/true".into()]), "/bin/true ");
        assert_eq!(
            exec_command_line(&["sh".into(), "-c".into(), "echo hi".into()]),
            "sh -c echo hi"
        );
    }

    #[test]
    fn ring_replays_between_since_and_until() {
        let bus = EventBus::new();
        let t0 = Utc::now();
        for i in 0..3 {
            let mut e = ev("container", "start", &format!("c{i}"), &[]);
            e.time_nano = t0.timestamp_nanos_opt().unwrap() + i;
            bus.publish(e);
        }
        let base = t0.timestamp_nanos_opt().unwrap();
        let none = bus.subscribe(None, None, &EventFilter::default());
        assert!(none.past.is_empty());
        let s = bus.subscribe(Some(base + 1), None, &EventFilter::default());
        let ids: Vec<_> = s.past.iter().map(|e| e.actor.id.clone()).collect();
        assert_eq!(ids, ["c1", "c2"]);
        let s = bus.subscribe(Some(base), Some(base + 1), &filter(&[("container", "c1")]));
        assert_eq!(s.past.len(), 1);
        for i in 0..EVENTS_KEPT + 5 {
            bus.log("image", "tag", &format!("i{i}"), BTreeMap::new());
        }
        let s = bus.subscribe(Some(0), None, &EventFilter::default());
        assert_eq!(s.past.len(), EVENTS_KEPT);
        assert_eq!(s.past[0].actor.id, "i5");
    }

    #[tokio::test]
    async fn live_events_reach_subscribers() {
        let bus = EventBus::new();
        let mut s = bus.subscribe(None, None, &EventFilter::default());
        bus.log("image", "delete", "sha256:x", BTreeMap::new());
        let e = s.live.recv().await.unwrap();
        assert_eq!(e.action, "delete");
    }

    #[test]
    fn times_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = now.timestamp_nanos_opt().unwrap();
        assert_eq!(parse_event_time("", now).unwrap(), None);
        assert_eq!(
            parse_event_time("1700000000", now).unwrap(),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_event_time("1700000000.5", now).unwrap(),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_event_time("2026-11-21T09:00:00Z", now).unwrap(),
            Some(n - 3_600_000_000_000)
        );
        assert_eq!(
            parse_event_time("10m", now).unwrap(),
            Some(n - 600_000_000_000)
        );
        assert_eq!(
            parse_event_time("1h30m", now).unwrap(),
            Some(n - 5_400_000_000_000)
        );
        assert!(parse_event_time("yesterday", now).is_err());
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("-2ms"), Some(-2_000_000));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("m"), None);
    }
}

//! `POST /images/create?fromImage=REPO` with no tag: every tag of the repository, one after
//! the other, with dockerd's messages (each tag's `Pulling from` and layers, then one closing
//! `Status:` line naming the repository).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper::StatusCode;

use berth_engine::{AuthConfig, PlatformSpec, PullRequest};
use berth_spec::api::ProgressMessage;
use berth_spec::reference::Reference;

use crate::error::ApiError;
use crate::registry::Stream;
use crate::respond::{with_body, ApiResult};
use crate::Ctx;

/// Pulls every tag of `repo`.
pub(crate) async fn pull_all_tags(
    ctx: &Ctx,
    repo: Reference,
    platform: Option<PlatformSpec>,
    auth: AuthConfig,
) -> ApiResult {
    let cancel = Arc::new(AtomicBool::new(false));
    let engine = ctx.engine.clone();
    let (list_repo, list_auth, list_cancel) = (repo.clone(), auth.clone(), Arc::clone(&cancel));
    let tags =
        tokio::task::spawn_blocking(move || engine.list_tags(&list_repo, &list_auth, list_cancel))
            .await
            .map_err(|e| ApiError::internal(format!("background task failed: {e}")))??;
    let (stream, body) = Stream::new(Arc::clone(&cancel));
    let engine = ctx.engine.clone();
    tokio::task::spawn_blocking(move || {
        let updated = AtomicBool::new(false);
        let emit = |m: ProgressMessage| {
            // Each tag's own closing line is folded into the repository's.
            match m.status.as_deref() {
                Some(s) if s.starts_with("Status: Downloaded newer image") => {
                    updated.store(true, Ordering::Relaxed)
                }
                Some(s) if s.starts_with("Status: ") => {}
                _ => stream.send(m),
            }
        };
        for tag in tags {
            let reference = match repo.with_tag(&tag) {
                Ok(r) => r,
                Err(e) => {
                    stream.send(ProgressMessage::error(e.to_string()));
                    return;
                }
            };
            let req = PullRequest {
                reference,
                platform: platform.clone(),
                auth: auth.clone(),
            };
            let done = engine
                .prepare_pull(req, Arc::clone(&cancel))
                .and_then(|p| p.run(&engine, &emit));
            match done {
                Ok(done) => engine.log_image_event(&done.familiar, &done.familiar, "pull"),
                Err(e) => {
                    stream.send(ProgressMessage::error(e.message));
                    return;
                }
            }
        }
        let name = repo.familiar_name();
        stream.send(ProgressMessage::status(
            if updated.load(Ordering::Relaxed) {
                format!("Status: Downloaded newer image for {name}")
            } else {
                format!("Status: Image is up to date for {name}")
            },
        ));
    });
    Ok(with_body(StatusCode::OK, "application/json", body))
}

//! Deciding what to do with one query: answer it locally from the [`Lookup`], or forward it.
//!
//! Pure (no I/O) so that it can be unit-tested without sockets.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::Lookup;

/// TTL of locally answered records (Docker's embedded DNS uses 600 s).
pub(crate) const LOCAL_TTL: u32 = 600;

/// The EDNS UDP payload size advertised in local answers when the client used EDNS.
const EDNS_PAYLOAD: u16 = 1232;

/// What to do with an incoming packet.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Relay the raw query to the upstreams; the parsed query is kept to build a SERVFAIL.
    Forward(Box<Message>),
    /// Drop the packet (garbage, a response, no question).
    Ignore,
}

/// Transport the query came in on (UDP answers are size-limited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Datagram: answers are limited to the client's advertised payload size.
    Udp,
    /// Stream: no size limit beyond 65535.
    Tcp,
}

/// Decide how to handle `packet`, a query from `client`.
pub(crate) fn handle(
    packet: &[u8],
    client: IpAddr,
    lookup: &dyn Lookup,
    transport: Transport,
) -> Action {
    let Ok(msg) = Message::from_vec(packet) else {
        return Action::Ignore;
    };
    if msg.metadata.message_type != MessageType::Query {
        return Action::Ignore;
    }
    let Some(query) = msg.queries.first().cloned() else {
        return Action::Ignore;
    };
    if msg.metadata.op_code != OpCode::Query
        || !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY)
    {
        return Action::Forward(Box::new(msg));
    }
    let client = client.to_canonical();
    let name = normalize(query.name());
    let answers = match query.query_type() {
        RecordType::PTR => match ptr_ip(&name).and_then(|ip| lookup.lookup_ptr(client, ip)) {
            Some(target) => match Name::from_ascii(&target) {
                Ok(mut target) => {
                    target.set_fqdn(true);
                    vec![Record::from_rdata(
                        query.name().clone(),
                        LOCAL_TTL,
                        RData::PTR(PTR(target)),
                    )]
                }
                Err(_) => return Action::Forward(Box::new(msg)),
            },
            None => return Action::Forward(Box::new(msg)),
        },
        qtype => match lookup.lookup_a(client, &name) {
            // A known name: A (or ANY) gets its addresses, any other type an empty NOERROR.
            Some(ips) if matches!(qtype, RecordType::A | RecordType::ANY) => {
                rotate(ips, msg.metadata.id)
                    .into_iter()
                    .map(|ip| Record::from_rdata(query.name().clone(), LOCAL_TTL, RData::A(A(ip))))
                    .collect()
            }
            Some(_) => Vec::new(),
            None => return Action::Forward(Box::new(msg)),
        },
    };
    match encode_local(&msg, query, answers, transport) {
        Some(bytes) => Action::Reply(bytes),
        None => Action::Ignore,
    }
}

/// Rotate `ips` by the query id, so that several containers sharing an alias are handed out
/// in varying order (Docker shuffles them).
fn rotate(mut ips: Vec<Ipv4Addr>, id: u16) -> Vec<Ipv4Addr> {
    if !ips.is_empty() {
        let n = usize::from(id) % ips.len();
        ips.rotate_left(n);
    }
    ips
}

/// A SERVFAIL response to `request` (used when every upstream failed).
pub(crate) fn servfail(request: &Message) -> Option<Vec<u8>> {
    let mut resp = response_to(request);
    resp.metadata.response_code = ResponseCode::ServFail;
    if let Some(q) = request.queries.first() {
        resp.add_query(q.clone());
    }
    resp.to_vec().ok()
}

/// A bare response header mirroring `request` (id, opcode, RD, CD), with RA set.
fn response_to(request: &Message) -> Message {
    let mut resp = Message::response(request.metadata.id, request.metadata.op_code);
    resp.metadata.recursion_desired = request.metadata.recursion_desired;
    resp.metadata.checking_disabled = request.metadata.checking_disabled;
    resp.metadata.recursion_available = true;
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        resp.set_edns(edns);
    }
    resp
}

/// Encode a local answer, truncating (TC, no answers) when it does not fit in UDP.
///
/// Like Docker 20.10's resolver (checked against a real dockerd), the AA bit is not set
/// and RA is.
fn encode_local(
    request: &Message,
    query: Query,
    answers: Vec<Record>,
    transport: Transport,
) -> Option<Vec<u8>> {
    let mut resp = response_to(request);
    resp.add_query(query);
    resp.add_answers(answers);
    let bytes = resp.to_vec().ok()?;
    let limit = match transport {
        Transport::Udp => usize::from(request.max_payload()),
        Transport::Tcp => usize::from(u16::MAX),
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    resp.truncate().to_vec().ok()
}

/// Lowercase a query name and drop the trailing dot.
pub(crate) fn normalize(name: &Name) -> String {
    let text = name.to_lowercase().to_ascii();
    text.strip_suffix('.').unwrap_or(&text).to_string()
}

/// The IPv4 address of a reverse name `d.c.b.a.in-addr.arpa` (lowercase, no trailing dot).
pub(crate) fn ptr_ip(name: &str) -> Option<Ipv4Addr> {
    let rest = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut count = 0;
    for (i, label) in rest.split('.').enumerate() {
        if i >= 4
            || label.is_empty()
            || label.len() > 3
            || !label.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        octets[3 - i] = label.parse().ok()?;
        count += 1;
    }
    (count == 4).then(|| Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    struct Fake;
    impl Lookup for Fake {
        fn lookup_a(&self, client: IpAddr, name: &str) -> Option<Vec<Ipv4Addr>> {
            if client != IpAddr::V4(Ipv4Addr::new(172, 18, 0, 2)) {
                return None;
            }
            match name {
                "web" => Some(vec![Ipv4Addr::new(172, 18, 0, 3)]),
                "many" => Some((0..100).map(|i| Ipv4Addr::new(172, 18, 1, i)).collect()),
                _ => None,
            }
        }
        fn lookup_ptr(&self, _client: IpAddr, ip: Ipv4Addr) -> Option<String> {
            (ip == Ipv4Addr::new(172, 18, 0, 3)).then(|| "web.net1.".to_string())
        }
    }

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 18, 0, 2));

    fn query(name: &str, qtype: RecordType) -> Message {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
        m
    }

    fn run(m: &Message, client: IpAddr, t: Transport) -> Action {
        handle(&m.to_vec().unwrap(), client, &Fake, t)
    }

    fn reply(a: Action) -> Message {
        match a {
            Action::Reply(b) => Message::from_vec(&b).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn known_a_is_answered_locally() {
        let q = query("WEB.", RecordType::A);
        let r = reply(run(&q, CLIENT, Transport::Udp));
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.metadata.message_type, MessageType::Response);
        assert!(!r.metadata.authoritative, "docker does not set AA");
        assert!(r.metadata.recursion_desired && r.metadata.recursion_available);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert_eq!(r.queries, q.queries);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].ttl, 600);
        assert_eq!(r.answers[0].name, Name::from_str("WEB.").unwrap());
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(172, 18, 0, 3))));
    }

    #[test]
    fn other_types_of_known_name_are_empty_noerror() {
        for t in [RecordType::AAAA, RecordType::MX, RecordType::TXT] {
            let r = reply(run(&query("web", t), CLIENT, Transport::Udp));
            assert_eq!(r.metadata.response_code, ResponseCode::NoError);
            assert!(r.answers.is_empty(), "{t}");
        }
    }

    #[test]
    fn unknown_names_and_other_clients_are_forwarded() {
        assert!(matches!(
            run(&query("example.com", RecordType::A), CLIENT, Transport::Udp),
            Action::Forward(_)
        ));
        let other = IpAddr::V4(Ipv4Addr::new(172, 19, 0, 2));
        assert!(matches!(
            run(&query("web", RecordType::A), other, Transport::Udp),
            Action::Forward(_)
        ));
        // a trailing search domain is not stripped
        assert!(matches!(
            run(
                &query("web.example.com", RecordType::A),
                CLIENT,
                Transport::Udp
            ),
            Action::Forward(_)
        ));
    }

    #[test]
    fn ptr_is_answered_or_forwarded() {
        let r = reply(run(
            &query("3.0.18.172.in-addr.arpa.", RecordType::PTR),
            CLIENT,
            Transport::Udp,
        ));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            r.answers[0].data,
            RData::PTR(PTR(Name::from_str("web.net1.").unwrap()))
        );
        assert!(matches!(
            run(
                &query("9.0.18.172.in-addr.arpa.", RecordType::PTR),
                CLIENT,
                Transport::Udp
            ),
            Action::Forward(_)
        ));
    }

    #[test]
    fn multiple_addresses_are_rotated_by_query_id() {
        let mut q = query("many", RecordType::A);
        q.metadata.id = 1;
        let r = reply(run(&q, CLIENT, Transport::Tcp));
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(172, 18, 1, 1))));
        assert_eq!(
            r.answers[99].data,
            RData::A(A(Ipv4Addr::new(172, 18, 1, 0)))
        );
        q.metadata.id = 0;
        let r = reply(run(&q, CLIENT, Transport::Tcp));
        assert_eq!(r.answers[0].data, RData::A(A(Ipv4Addr::new(172, 18, 1, 0))));
    }

    #[test]
    fn ptr_names_parse() {
        assert_eq!(
            ptr_ip("3.0.18.172.in-addr.arpa"),
            Some(Ipv4Addr::new(172, 18, 0, 3))
        );
        assert_eq!(ptr_ip("0.18.172.in-addr.arpa"), None);
        assert_eq!(ptr_ip("1.3.0.18.172.in-addr.arpa"), None);
        assert_eq!(ptr_ip("300.0.18.172.in-addr.arpa"), None);
        assert_eq!(ptr_ip("a.0.18.172.in-addr.arpa"), None);
        assert_eq!(ptr_ip("3.0.18.172.ip6.arpa"), None);
    }

    #[test]
    fn big_udp_answers_are_truncated_but_not_over_tcp() {
        let q = query("many", RecordType::A);
        let r = reply(run(&q, CLIENT, Transport::Udp));
        assert!(r.metadata.truncation);
        assert!(r.answers.is_empty());
        let r = reply(run(&q, CLIENT, Transport::Tcp));
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 100);
    }

    #[test]
    fn garbage_and_responses_are_ignored() {
        assert!(matches!(
            handle(b"", CLIENT, &Fake, Transport::Udp),
            Action::Ignore
        ));
        assert!(matches!(
            handle(&[0xff; 7], CLIENT, &Fake, Transport::Udp),
            Action::Ignore
        ));
        let mut resp = query("web", RecordType::A);
        resp.metadata.message_type = MessageType::Response;
        assert!(matches!(run(&resp, CLIENT, Transport::Udp), Action::Ignore));
        let empty = Message::query();
        assert!(matches!(
            run(&empty, CLIENT, Transport::Udp),
            Action::Ignore
        ));
    }

    #[test]
    fn servfail_mirrors_the_query() {
        let q = query("example.com.", RecordType::A);
        let r = Message::from_vec(&servfail(&q).unwrap()).unwrap();
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(r.queries, q.queries);
    }
}

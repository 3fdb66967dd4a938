//! Swarm-mode and plugin endpoints, answered as a dockerd that is not part of a swarm and has
//! no managed plugins: clients (docker-py, the docker CLI) probe them and expect dockerd's
//! statuses and messages, not a 404 "page not found".

use hyper::StatusCode;

use crate::error::ApiError;
use crate::respond::{ok_json, ApiResult};

/// dockerd's answer to every swarm-manager request on a node outside a swarm.
const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// The first path segments owned by swarm mode.
pub(crate) fn is_swarm_path(first: &str) -> bool {
    matches!(
        first,
        "swarm" | "services" | "nodes" | "tasks" | "secrets" | "configs"
    )
}

fn unavailable(message: &str) -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: message.to_string(),
    }
}

/// Any request under `/swarm`, `/services`, `/nodes`, `/tasks`, `/secrets`, `/configs`
/// (`segs` is the path without the version prefix, split on `/`).
pub(crate) fn swarm(segs: &[&str]) -> ApiResult {
    match segs {
        ["swarm", "leave"] => Err(unavailable("This node is not part of a swarm")),
        ["swarm", "init" | "join"] => Err(ApiError {
            status: StatusCode::NOT_IMPLEMENTED,
            message: "berth does not support swarm mode".to_string(),
        }),
        _ => Err(unavailable(NOT_A_MANAGER)),
    }
}

/// Any request under `/plugins`: no plugin is installed and none can be.
pub(crate) fn plugins(method: &hyper::Method, segs: &[&str]) -> ApiResult {
    let no_plugin = |name: &str| ApiError::not_found(format!("plugin \"{name}\" not found"));
    match (method, segs) {
        (&hyper::Method::GET, ["plugins"]) => ok_json(&Vec::<serde_json::Value>::new()),
        (&hyper::Method::GET, ["plugins", "privileges"]) => {
            ok_json(&Vec::<serde_json::Value>::new())
        }
        (&hyper::Method::POST, ["plugins", "pull" | "create"]) => Err(ApiError {
            status: StatusCode::NOT_IMPLEMENTED,
            message: "berth does not support managed plugins".to_string(),
        }),
        (_, ["plugins", name, ..]) => Err(no_plugin(&crate::router::decode(name))),
        _ => Err(ApiError::not_found("page not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_answers_as_a_node_outside_a_swarm() {
        let e = swarm(&["swarm"]).unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.message.starts_with("This node is not a swarm manager."));
        let e = swarm(&["swarm", "leave"]).unwrap_err();
        assert_eq!(e.message, "This node is not part of a swarm");
        assert!(is_swarm_path("secrets"));
        assert!(!is_swarm_path("containers"));
    }
}

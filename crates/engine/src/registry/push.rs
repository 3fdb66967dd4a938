//! `docker push` (see `push_image`).

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest;

//! berth's extension: `GET /berth/env/{name}` (environment capture).

use berth_envcapture::Environment;

use crate::client::Client;
use crate::error::Result;
use crate::query::encode;

impl Client {
    /// The captured environment of a container, or of an image with `image`.
    /// Only a berth daemon serves this (dockerd answers 404).
    pub async fn env_capture(&self, name: &str, image: bool) -> Result<Environment> {
        let path = format!(
            "/berth/env/{}?image={}",
            encode(name),
            if image { 1 } else { 0 }
        );
        self.get_json(&path).await
    }
}

//! The web panel, embedded from `admin-ui/` at build time.

use poem::endpoint::EmbeddedFilesEndpoint;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "admin-ui/"]
pub struct AdminUi;

pub fn endpoint() -> EmbeddedFilesEndpoint<AdminUi> {
    EmbeddedFilesEndpoint::<AdminUi>::new()
}

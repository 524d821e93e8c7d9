//! Pairing with a portal (OAuth device authorization) in two steps, the same for the window (two commands, the
//! code shown in between) and the CLI (one command that prints the code and waits).

use super::Session;
use super::{check_url, complete_pairing, device_name, portal_name, start_pairing, DeviceAuthorization, PortalError};

/// A pairing asked for: the code to show the user, waiting for the agent's approval on the portal page.
pub struct PendingPairing {
    pub auth: DeviceAuthorization,
    /// The name the pairing is kept under ([`portal_name`]).
    pub name: String,
    /// The portal's base URL, checked.
    pub base: String,
}

/// Step 1: the URL checked (`https://`, or `http://` on loopback), the keyring reachable (the tokens will be kept
/// there), this computer named ([`device_name`]), then a code asked of the portal.
pub async fn begin_pairing(url: &str, device: Option<&str>) -> Result<PendingPairing, PortalError> {
    let base = check_url(url)?;
    crate::secrets::available()?;
    let auth = start_pairing(&base, &device_name(device)).await?;
    Ok(PendingPairing { name: portal_name(&base), auth, base })
}

impl PendingPairing {
    /// Step 2: waits for the agent's approval (up to 10 minutes), then keeps the tokens in the OS keyring (a previous
    /// pairing is forgotten).
    pub async fn finish(&self) -> Result<std::sync::Arc<Session>, PortalError> {
        let tokens = complete_pairing(&self.auth).await?;
        Session::save_pairing(&self.auth, &self.name, tokens).await
    }
}

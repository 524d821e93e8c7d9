//! The portal's state and pairing (OAuth device authorization), and the one runtime for the window's portal calls.

use super::*;

/// The portal as the dashboard and the tray show it: the pairing (if any) and the channel's published state.
#[cfg(feature = "portal")]
pub fn portal_state(_req: (), lang: Lang) -> Result<PortalState, ApiError> {
    let pairing = crate::portal::current_pairing().map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(match pairing {
        Some(p) => PortalState {
            connected: crate::portal::published_state().is_some_and(|e| e.is_connected()),
            name: Some(p.name),
            url: Some(p.url),
            paired: true,
        },
        None => {
            let settings = load_settings().unwrap_or_default();
            let first = settings.portals.first();
            PortalState {
                name: first.map(|p| p.name.clone()),
                url: first.map(|p| p.url.clone()),
                paired: false,
                connected: false,
            }
        }
    })
}

#[cfg(not(feature = "portal"))]
pub fn portal_state(_req: (), _lang: Lang) -> Result<PortalState, ApiError> {
    let settings = load_settings().unwrap_or_default();
    let first = settings.portals.first();
    Ok(PortalState {
        name: first.map(|p| p.name.clone()),
        url: first.map(|p| p.url.clone()),
        paired: false,
        connected: false,
    })
}

/// Start pairing with a portal (OAuth device authorization).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PairRequest {
    pub url: String,
    /// What the agent sees on the approval page (default: this computer's name).
    pub device_name: Option<String>,
}

/// The code to check on the portal page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct PairCode {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u32,
    pub device_name: String,
}

#[cfg(feature = "portal")]
static PAIRING: std::sync::Mutex<Option<crate::portal::PendingPairing>> = std::sync::Mutex::new(None);

/// One runtime for every portal call of the window: the process's shared portal session
/// ([`crate::portal::Session::shared`]) keeps its HTTP connections, which belong to the runtime that opened them.
#[cfg(feature = "portal")]
static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

#[cfg(feature = "portal")]
pub(super) fn block_on<F: std::future::Future>(lang: Lang, f: F) -> Result<F::Output, ApiError> {
    if RUNTIME.get().is_none() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| {
            ApiError {
                code: "desktop.runtime".into(),
                message: lang.pick3(
                    format!("Trousseau n'a pas pu démarrer une tâche réseau ({e}). Redémarrez Trousseau."),
                    format!("Trousseau could not start a network task ({e}). Restart Trousseau."),
                    format!("Trousseau konnte keine Netzwerkaufgabe starten ({e}). Starten Sie Trousseau neu."),
                ),
            }
        })?;
        // a concurrent first call may have won: its runtime is kept, this one dropped
        let _ = RUNTIME.set(rt);
    }
    match RUNTIME.get() {
        Some(rt) => Ok(rt.block_on(f)),
        None => Err(ApiError::unavailable("portal", lang)),
    }
}

/// The pairing code as both faces show it (the CLI's `portal pair --json` prints it too).
#[cfg(feature = "portal")]
pub fn pair_code(auth: &crate::portal::DeviceAuthorization, device_name: String) -> PairCode {
    PairCode {
        user_code: auth.user_code.clone(),
        verification_uri: auth.verification_uri.clone(),
        verification_uri_complete: auth.verification_uri_complete.clone(),
        expires_in: auth.expires_in.min(u32::MAX as u64) as u32,
        device_name,
    }
}

gated! { feature = "portal", "portal";
    /// Asks the portal for a pairing code (step 1 of 2): the window shows it, the agent approves it on the portal page.
    pub fn portal_pair_start(req: PairRequest, lang: Lang) -> Result<PairCode, ApiError> {
        let pairing = block_on(lang, crate::portal::begin_pairing(&req.url, req.device_name.as_deref()))?
            .map_err(|e| ApiError::from_coded(&e, lang))?;
        let code = pair_code(&pairing.auth, pairing.auth.device_name.clone());
        *PAIRING.lock().unwrap_or_else(|e| e.into_inner()) = Some(pairing);
        Ok(code)
    }
}

gated! { feature = "portal", "portal";
    /// Waits for the agent's approval (step 2 of 2; up to 10 minutes), then keeps the tokens in the OS keyring.
    pub fn portal_pair_finish(_req: (), lang: Lang) -> Result<PortalState, ApiError> {
        let Some(pairing) = PAIRING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Err(ApiError::bad_request("no pairing started", lang));
        };
        block_on(lang, pairing.finish())?.map_err(|e| ApiError::from_coded(&e, lang))?;
        portal_state((), lang)
    }
}

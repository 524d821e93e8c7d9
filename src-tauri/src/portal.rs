//! The portal channel in the desktop app: while paired, Trousseau keeps the outbound channel open so the portal
//! page shows "Connecté"; every state change goes to the tray (icon and first line), the window and a notification.
//! A relayed "generate a new bi-clé" is confirmed in a native dialog of our own that names the portal.

use std::sync::Arc;
use tauri::{AppHandle, Manager};
use trousseau::api::PortalState;
use trousseau::portal::{
    pairing_changed, publish_state, spawn_channel, ChannelEvent, ChannelHandle, Confirm, ConfirmRequest, RelayHandler,
    Session, SystemWorkstation,
};
use trousseau::Lang;

/// The running channel, if any.
#[derive(Default)]
pub struct PortalChannel(pub tokio::sync::Mutex<Option<ChannelHandle>>);

/// Asks the user in a dialog of the assistant itself, naming the portal.
struct WindowConfirm {
    app: AppHandle,
    lang: Lang,
}

impl Confirm for WindowConfirm {
    fn confirm(&self, request: &ConfirmRequest) -> bool {
        use tauri_plugin_dialog::{DialogExt, MessageDialogButtons, MessageDialogKind};
        crate::show_window(&self.app);
        let (yes, no) = match self.lang {
            Lang::Fr => ("Accepter", "Refuser"),
            Lang::En => ("Accept", "Refuse"),
            Lang::De => ("Annehmen", "Ablehnen"),
        };
        self.app
            .dialog()
            .message(request.question(self.lang))
            .title(format!("Trousseau — {}", request.portal))
            .kind(MessageDialogKind::Warning)
            .buttons(MessageDialogButtons::OkCancelCustom(yes.into(), no.into()))
            .blocking_show()
    }
}

/// Which call of [`start`] is current: a watcher of an older call gives way.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// (Re)starts the channel for the current pairing; without a pairing, shows "Déconnecté". Either way it then
/// follows the pairing file, so a pairing made, replaced or removed by another process (`trousseau portal pair` in
/// a shell while the app runs) is picked up within seconds.
pub fn start(app: &AppHandle) {
    use std::sync::atomic::Ordering;
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let holder = app.state::<PortalChannel>();
        let mut guard = holder.0.lock().await;
        if GENERATION.load(Ordering::SeqCst) != generation {
            return;
        }
        if let Some(old) = guard.take() {
            old.stop().await;
        }
        let session = match Session::shared() {
            Ok(s) => s,
            Err(_) => {
                publish_state(None);
                crate::apply_state(&app, trousseau::api::portal_state((), crate::current_lang()).ok(), None);
                drop(guard);
                pairing_changed(None).await;
                if GENERATION.load(Ordering::SeqCst) == generation {
                    start(&app);
                }
                return;
            }
        };
        let lang = crate::current_lang();
        let handler = Arc::new(RelayHandler::new(
            Arc::new(SystemWorkstation { lang }),
            Arc::new(WindowConfirm { app: app.clone(), lang }),
            session.portal_name(),
            lang,
        ));
        let channel = spawn_channel(Arc::clone(&session), handler, Default::default());
        let mut state = channel.state();
        *guard = Some(channel);
        drop(guard);
        let changed = pairing_changed(session.pairing().cloned());
        tokio::pin!(changed);
        let mut moved = false;
        loop {
            let event = state.borrow_and_update().clone();
            publish_state(Some(&event));
            let view = PortalState {
                name: Some(session.portal_name().to_string()),
                url: Some(session.base_url().to_string()),
                paired: event != ChannelEvent::Revoked,
                connected: event.is_connected(),
            };
            crate::apply_state(&app, Some(view), None);
            if event == ChannelEvent::Stopped {
                break;
            }
            tokio::select! {
                r = state.changed() => if r.is_err() { break },
                _ = &mut changed => { moved = true; break },
            }
        }
        // the channel ended (revoked) or the pairing changed: a pairing made elsewhere starts a new channel
        if GENERATION.load(Ordering::SeqCst) == generation {
            if !moved {
                changed.await;
            }
            if GENERATION.load(Ordering::SeqCst) == generation {
                start(&app);
            }
        }
    });
}

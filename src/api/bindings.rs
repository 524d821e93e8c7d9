//! The TypeScript declarations of the command surface, generated from the command list.

use super::*;

macro_rules! command_names {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        /// The names of every command, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        fn commands_typescript(cfg: &ts_rs::Config) -> String {
            let mut s = String::from("/** Every command: its request and response types. */\nexport type Commands = {\n");
            $(
                s.push_str(&format!(
                    "  {}: {{ req: {}; res: {} }};\n",
                    stringify!($name),
                    <$req as TS>::name(cfg),
                    <$res as TS>::name(cfg)
                ));
            )*
            s.push_str("};\n");
            s
        }
    };
}
crate::with_commands!(command_names);

/// The TypeScript declarations of every type of the command surface plus the `Commands` map, as one module
/// (written to `ui/src/bindings.ts` by `trousseau-desktop --write-bindings`; a test checks it is current).
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new();
    let decls = [
        ApiError::decl(&cfg),
        Capabilities::decl(&cfg),
        CertSummary::decl(&cfg),
        ReaderState::decl(&cfg),
        CardState::decl(&cfg),
        PendingSummary::decl(&cfg),
        PortalState::decl(&cfg),
        Dashboard::decl(&cfg),
        PasswordPolicy::decl(&cfg),
        PasswordCheckRequest::decl(&cfg),
        PasswordCheck::decl(&cfg),
        FileRequest::decl(&cfg),
        CertFile::decl(&cfg),
        PortalEntry::decl(&cfg),
        Settings::decl(&cfg),
        TrayIcon::decl(&cfg),
        TrayView::decl(&cfg),
        P12Request::decl(&cfg),
        P12Summary::decl(&cfg),
        InstallResult::decl(&cfg),
        CertRef::decl(&cfg),
        ExportRequest::decl(&cfg),
        PairRequest::decl(&cfg),
        PairCode::decl(&cfg),
        #[cfg(feature = "software-keys")]
        crate::csr::igc_sante::Insi::decl(&cfg),
        IgcRequest::decl(&cfg),
        CsrResult::decl(&cfg),
        Reminder::decl(&cfg),
        BicleRow::decl(&cfg),
        BicleAdd::decl(&cfg),
        BicleRef::decl(&cfg),
        TokenRow::decl(&cfg),
        TokensView::decl(&cfg),
        TokenCertRow::decl(&cfg),
        TokenCerts::decl(&cfg),
        TokenCertsView::decl(&cfg),
        BicleCandidate::decl(&cfg),
        GenericRequest::decl(&cfg),
        EnvelopeRecipient::decl(&cfg),
        EnvelopeView::decl(&cfg),
        EnvelopeOpenRequest::decl(&cfg),
        EnvelopeOpened::decl(&cfg),
        DrillLast::decl(&cfg),
        DrillRequest::decl(&cfg),
        DrillRowView::decl(&cfg),
        DrillView::decl(&cfg),
        PinChangeRequest::decl(&cfg),
        RevocationCodeRequest::decl(&cfg),
        CertStatusRequest::decl(&cfg),
        crate::revocation::Status::decl(&cfg),
        crate::revocation::Source::decl(&cfg),
        crate::revocation::StatusProblem::decl(&cfg),
        crate::revocation::StatusReport::decl(&cfg),
        crate::doctor::CheckStatus::decl(&cfg),
        crate::doctor::Check::decl(&cfg),
        crate::doctor::DoctorReport::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src/api.rs by ts-rs (`cargo run -p trousseau-desktop -- --write-bindings`). Do not edit.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&commands_typescript(&cfg));
    out
}

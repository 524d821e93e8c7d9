//! `trousseau csr` — certificate requests generated on this computer (IGC-Santé and generic profiles).
//!
//! `csr new` checks the whole request before anything is created, then (software key) generates RSA-2048, stores
//! the private key in the pending-key vault and only then writes the CSR. `csr profiles` lists the IGC-Santé
//! offers and usages for the window.

use super::{CliError, Ctx};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Create a certificate request (PKCS#10, RSA-2048, sha256WithRSAEncryption); the private key waits in the vault
    New(Box<NewArgs>),
    /// List the request profiles: IGC-Santé offers and usages, generic
    Profiles,
}

/// `--profile` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileArg {
    /// French IGC-Santé software certificates (offers PS, PRO, ORG, SERV)
    IgcSante,
    /// Any subject given with --subject (RFC 4514)
    Generic,
}

/// `--insi` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsiArg {
    Auto,
    Manu,
}

#[derive(clap::Args, Debug, Clone)]
pub struct NewArgs {
    /// Request profile (default: generic when --subject is given, else igc-sante)
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// IGC-Santé offer: PS, PRO, ORG, SERV
    #[arg(long)]
    pub offer: Option<String>,
    /// IGC-Santé usage: AUTH, AUTH_CLI, SIGN, CONF, SMIME, SSL_SERV
    #[arg(long)]
    pub usage: Option<String>,
    /// Common name: national id (PS, PRO) or application service name (ORG, SERV)
    #[arg(long)]
    pub cn: Option<String>,
    /// Surname (PS, PRO)
    #[arg(long)]
    pub sn: Option<String>,
    /// Given name (PS, PRO)
    #[arg(long)]
    pub gn: Option<String>,
    /// Profession (PS, PRO)
    #[arg(long)]
    pub title: Option<String>,
    /// Structure id (PRO, ORG, SERV)
    #[arg(long)]
    pub ou: Option<String>,
    /// Raison sociale (PRO, ORG, SERV)
    #[arg(long)]
    pub o: Option<String>,
    /// "Département (NN)" (PRO, ORG, SERV)
    #[arg(long)]
    pub st: Option<String>,
    /// E-mail SAN (CONF, SIGN, SMIME; generic: repeatable)
    #[arg(long)]
    pub email: Vec<String>,
    /// UPN SAN (AUTH)
    #[arg(long)]
    pub upn: Option<String>,
    /// Server name SAN (SSL_SERV: 1 to 5; generic: repeatable)
    #[arg(long)]
    pub fqdn: Vec<String>,
    /// INSi service: the common name becomes INSI-AUTO or INSI-MANU (ORG, SERV)
    #[arg(long, value_enum)]
    pub insi: Option<InsiArg>,
    /// Generic profile: subject as an RFC 4514 string, most specific first ("CN=Name,O=Org,C=LU")
    #[arg(long)]
    pub subject: Option<String>,
    /// Where to write the CSR (PEM); an existing file is kept unless --force
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the --out file if it exists
    #[arg(long)]
    pub force: bool,
    /// Sign with a key on this PKCS#11 token (card) instead of a new software key: no vault entry, the key stays there
    #[arg(long)]
    pub token: Option<String>,
    /// With --token: CKA_ID (hex) of the key on the token (see `trousseau token keys`)
    #[arg(long, requires = "token")]
    pub key_id: Option<String>,
    /// With --token: create a new RSA-2048 key pair on the token for this request
    #[arg(long, requires = "token")]
    pub generate_on_token: bool,
    #[command(flatten)]
    pub pin: super::tokens::PinArgs,
}

#[cfg(feature = "software-keys")]
fn usage_error(ctx: &Ctx, fr: String, en: String, de: String) -> CliError {
    CliError::new("csr.arguments", ctx.lang.pick3(fr, en, de))
}

/// Checks the arguments and builds the request description (creates nothing).
#[cfg(feature = "software-keys")]
pub fn spec_from_args(a: &NewArgs, ctx: &Ctx) -> Result<trousseau::csr::RequestSpec, CliError> {
    use trousseau::csr::{igc_sante, RequestSpec, SanRequest};
    let profile = a.profile.unwrap_or(if a.subject.is_some() { ProfileArg::Generic } else { ProfileArg::IgcSante });
    match profile {
        ProfileArg::Generic => {
            let subject = a.subject.as_deref().ok_or_else(|| {
                usage_error(
                    ctx,
                    "le profil generic demande --subject \"CN=…,O=…,C=LU\"".into(),
                    "the generic profile needs --subject \"CN=…,O=…,C=LU\"".into(),
                    "das Profil generic benötigt --subject \"CN=…,O=…,C=LU\"".into(),
                )
            })?;
            let igc_only: [(&str, bool); 10] = [
                ("offer", a.offer.is_some()),
                ("usage", a.usage.is_some()),
                ("cn", a.cn.is_some()),
                ("sn", a.sn.is_some()),
                ("gn", a.gn.is_some()),
                ("title", a.title.is_some()),
                ("ou", a.ou.is_some()),
                ("o", a.o.is_some()),
                ("st", a.st.is_some()),
                ("insi", a.insi.is_some()),
            ];
            if let Some((name, _)) = igc_only.iter().find(|(_, given)| *given) {
                return Err(usage_error(
                    ctx,
                    format!(
                        "--{name} appartient au profil igc-sante ; avec --subject, mettez tout le sujet dans --subject"
                    ),
                    format!(
                        "--{name} belongs to the igc-sante profile; with --subject, put the whole subject in --subject"
                    ),
                    format!(
                        "--{name} gehört zum Profil igc-sante; mit --subject geben Sie den gesamten Antragsteller in --subject an"
                    ),
                ));
            }
            let mut sans = Vec::new();
            for e in &a.email {
                sans.push(SanRequest::email(e)?);
            }
            for f in &a.fqdn {
                sans.push(SanRequest::dns(f)?);
            }
            if let Some(u) = &a.upn {
                sans.push(SanRequest::upn(u)?);
            }
            Ok(RequestSpec::generic(subject, sans)?)
        }
        ProfileArg::IgcSante => {
            if a.subject.is_some() {
                return Err(usage_error(
                    ctx,
                    "--subject appartient au profil generic ; le profil igc-sante se décrit avec --offer, --usage, --cn…".into(),
                    "--subject belongs to the generic profile; the igc-sante profile is described with --offer, --usage, --cn…".into(),
                    "--subject gehört zum Profil generic; das Profil igc-sante wird mit --offer, --usage, --cn… beschrieben".into(),
                ));
            }
            let (Some(offer), Some(usage)) = (&a.offer, &a.usage) else {
                return Err(usage_error(
                    ctx,
                    "le profil igc-sante demande --offer (PS, PRO, ORG, SERV) et --usage (AUTH, AUTH_CLI, SIGN, CONF, SMIME, SSL_SERV) ; pour un autre sujet, utilisez --subject".into(),
                    "the igc-sante profile needs --offer (PS, PRO, ORG, SERV) and --usage (AUTH, AUTH_CLI, SIGN, CONF, SMIME, SSL_SERV); for any other subject use --subject".into(),
                    "das Profil igc-sante benötigt --offer (PS, PRO, ORG, SERV) und --usage (AUTH, AUTH_CLI, SIGN, CONF, SMIME, SSL_SERV); für jeden anderen Antragsteller verwenden Sie --subject".into(),
                ));
            };
            let input = igc_sante::Input {
                offer: offer.clone(),
                usage: usage.clone(),
                cn: a.cn.clone(),
                sn: a.sn.clone(),
                gn: a.gn.clone(),
                title: a.title.clone(),
                ou: a.ou.clone(),
                o: a.o.clone(),
                st: a.st.clone(),
                emails: a.email.clone(),
                upn: a.upn.clone(),
                fqdns: a.fqdn.clone(),
                insi: a.insi.map(|i| match i {
                    InsiArg::Auto => igc_sante::Insi::Auto,
                    InsiArg::Manu => igc_sante::Insi::Manu,
                }),
            };
            Ok(RequestSpec::igc_sante(&input)?)
        }
    }
}

#[cfg(feature = "software-keys")]
pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    use trousseau::csr;
    match cmd {
        Cmd::Profiles => {
            let v = csr::profiles(ctx.lang);
            if ctx.json {
                ctx.print_json(&v)
            } else {
                outln!("igc-sante:")?;
                for o in csr::igc_sante::offers(ctx.lang) {
                    let usages = o.usages.iter().map(|u| u.id).collect::<Vec<_>>().join(", ");
                    outln!("  {:<5} {} — {usages} ({})", o.id, o.label, o.fields.join(", "))?;
                }
                outln!("generic: --subject \"CN=…,O=…,C=LU\" [--email …] [--fqdn …] [--upn …]")?;
                Ok(())
            }
        }
        Cmd::New(a) => {
            let spec = spec_from_args(&a, ctx)?;
            if let Some(label) = &a.token {
                let (id, generate) = (a.key_id.as_deref(), a.generate_on_token);
                return super::tokens::csr_on_token(ctx, label, id, generate, &a.pin, &spec, &a.out, a.force);
            }
            // Refuse a bad destination before touching the keyring or generating anything.
            csr::check_output(&a.out, a.force)?;
            let made = csr::new_software_request_default_vault(&spec, &a.out, a.force)?;
            if ctx.json {
                ctx.print_json(&made)
            } else {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        format!("Demande créée : {}", made.out.display()),
                        format!("Request created: {}", made.out.display()),
                        format!("Zertifikatsanforderung erstellt: {}", made.out.display())
                    )
                )?;
                outln!("  {} {}", ctx.lang.pick3("Sujet :", "Subject:", "Antragsteller:"), made.subject)?;
                outln!("  {} {}", ctx.lang.pick3("Identifiant :", "Id:", "Kennung:"), made.id)?;
                if let Some(d) = made.deadline {
                    let day = format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year());
                    outln!(
                        "  {}",
                        ctx.lang.pick3(
                            format!("Retirez le certificat avant le {day} ; la clé privée attend dans le coffre de Trousseau."),
                            format!("Withdraw the certificate before {day}; the private key waits in Trousseau's vault."),
                            format!("Rufen Sie das Zertifikat vor dem {day} ab; der private Schlüssel wartet im Tresor von Trousseau."),
                        )
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(not(feature = "software-keys"))]
pub fn run(_cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::new(
        "csr.unavailable",
        ctx.lang.pick3(
            "Cette version de Trousseau a été construite sans génération de clés (fonction software-keys).",
            "This build of Trousseau has no key generation (feature software-keys).",
            "Diese Version von Trousseau wurde ohne Schlüsselerzeugung erstellt (Funktion software-keys).",
        ),
    ))
}

#[cfg(all(test, feature = "software-keys"))]
mod tests {
    use super::*;
    use crate::cli::test_support::{assert_german, de_en};
    use clap::Parser;

    fn new_args(args: &[&str]) -> NewArgs {
        let argv = ["trousseau", "csr", "new"].iter().chain(args).copied();
        match crate::cli::Cli::try_parse_from(argv).expect("arguments parse").command {
            crate::cli::Command::Csr(Cmd::New(a)) => *a,
            other => panic!("not csr new: {other:?}"),
        }
    }

    #[test]
    fn request_argument_errors_in_german() {
        for args in [
            &["--profile", "generic", "--out", "x.csr"][..],
            &["--out", "x.csr"][..],
            &["--subject", "CN=A", "--offer", "PS", "--out", "x.csr"][..],
            &["--profile", "igc-sante", "--subject", "CN=A", "--out", "x.csr"][..],
        ] {
            let a = new_args(args);
            let (de, en) = de_en(|ctx| spec_from_args(&a, ctx).err());
            assert_eq!(de.code, "csr.arguments");
            assert_german(&de.message, &en.message);
            assert!(de.message.contains("Profil"), "{}", de.message);
        }
    }
}

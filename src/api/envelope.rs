//! Envelopes (CMS): which recipients they name, and opening them with the key where it lives.

use super::*;

/// One recipient of an envelope, as the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct EnvelopeRecipient {
    /// Issuer (RFC 4514) and serial (hex), or the subject key identifier.
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub ski: Option<String>,
    /// `rsa_pkcs1v15`, `rsa_oaep_sha1`, `rsa_oaep_sha256`; `None` with `unsupported` naming what it is.
    pub key_transport: Option<String>,
    pub unsupported: Option<String>,
    /// `store`, `token` (card present) or `absent`.
    pub reachable: String,
    /// Holder's name and the card's label when this workstation has the key.
    pub holder: Option<String>,
    pub token: Option<String>,
}

/// What an envelope names, read without any PIN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeView {
    /// `enveloped` or `auth_enveloped`.
    pub kind: String,
    /// `aes-256-cbc`, `aes-128-gcm`, `des-ede3-cbc`…
    pub content_cipher: String,
    pub encrypted_size: f64,
    pub recipients: Vec<EnvelopeRecipient>,
    pub can_open: bool,
}

/// Open an envelope into a folder (or file); the card's PIN when the key is on a card.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct EnvelopeOpenRequest {
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "string")]
    pub out: PathBuf,
    /// Replace an existing file of the same name.
    pub force: bool,
    #[ts(type = "string | null")]
    pub pin: Option<password::Password>,
}

/// An envelope opened: where its content is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeOpened {
    pub out: String,
    pub size: f64,
    pub recipient: EnvelopeRecipient,
}

/// The wire name (serde) of one of the core's enums.
#[cfg(feature = "software-keys")]
pub(super) fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(feature = "software-keys")]
pub(super) fn envelope_recipient(r: crate::envelope::Recipient) -> EnvelopeRecipient {
    EnvelopeRecipient {
        issuer: r.issuer,
        serial: r.serial,
        ski: r.ski,
        key_transport: r.key_transport.map(|t| wire_name(&t)),
        unsupported: r.unsupported,
        reachable: wire_name(&r.reachable),
        holder: r.holder,
        token: r.token,
    }
}

gated! { feature = "software-keys", "envelope";
    /// Which recipients an envelope names and which of them this workstation can open (no PIN asked).
    pub fn envelope_inspect(req: FileRequest, lang: Lang) -> Result<EnvelopeView, ApiError> {
        let i = crate::envelope::inspect(&req.path, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(EnvelopeView {
            kind: i.kind.to_string(),
            content_cipher: i.content_cipher.name().to_string(),
            encrypted_size: i.encrypted_size as f64,
            can_open: i.can_open,
            recipients: i.recipients.into_iter().map(envelope_recipient).collect(),
        })
    }
}

gated! { feature = "software-keys", "envelope";
    /// Opens an envelope with the key where it lives (the PIN given is used only if the key is on a card).
    pub fn envelope_open(req: EnvelopeOpenRequest, lang: Lang) -> Result<EnvelopeOpened, ApiError> {
        let open = crate::envelope::OpenRequest { file: req.path.clone(), out: req.out.clone(), force: req.force };
        let mut source = card_pin(&req.pin);
        let o = crate::envelope::open(&open, &mut source, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(EnvelopeOpened {
            out: o.out.display().to_string(),
            size: o.size as f64,
            recipient: envelope_recipient(o.recipient),
        })
    }
}

//! Bi-clés (encryption key pairs) registered with the paired portal.

use super::*;

/// Personal or backup ("de secours"): each kind is its own registry row (the portal module's `BicleKind`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum BicleKind {
    Personal,
    Backup,
}

#[cfg(feature = "portal")]
impl From<crate::portal::BicleKind> for BicleKind {
    fn from(k: crate::portal::BicleKind) -> Self {
        match k {
            crate::portal::BicleKind::Personal => BicleKind::Personal,
            crate::portal::BicleKind::Backup => BicleKind::Backup,
        }
    }
}

/// Where a bi-clé stands in the portal's registry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum BicleStatus {
    /// Active: envelopes are encrypted to it.
    Actif,
    /// Waiting for the agent's confirmation on the portal page.
    AConfirmer,
    /// Removal waiting for the agent's confirmation.
    SuppressionAConfirmer,
    /// Removed (the portal's answer to a removal that needed no confirmation).
    Supprime,
}

impl BicleStatus {
    /// The status the portal sent (an unknown one reads as waiting for confirmation: nothing is done with it).
    pub fn parse(s: &str) -> BicleStatus {
        match s {
            "actif" => BicleStatus::Actif,
            "suppression_a_confirmer" => BicleStatus::SuppressionAConfirmer,
            "supprime" => BicleStatus::Supprime,
            _ => BicleStatus::AConfirmer,
        }
    }
}

/// A bi-clé registered with the portal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct BicleRow {
    pub id: i32,
    pub kind: BicleKind,
    pub designation: String,
    pub cn: String,
    pub issuer: String,
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub sha256: String,
    pub status: BicleStatus,
    /// Expired certificates cannot decrypt new bids: the window warns.
    pub expired: bool,
}

/// Register a certificate of the store or of a card (token) as a bi-clé, personal and/or backup, in one request.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BicleAdd {
    /// Generate a new RSA-2048 key pair with a self-signed encryption certificate (`CN=designation`), installed in
    /// the store, instead of using the certificate `sha256`.
    pub generate: bool,
    /// A certificate offered by `portal_bicle_candidates`: looked up in the store first, then on the tokens. Only
    /// the public certificate is sent to the portal (no PIN is asked).
    pub sha256: String,
    pub designation: String,
    pub personal: bool,
    pub backup: bool,
}

/// A bi-clé of the registry, by id.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BicleRef {
    pub id: i32,
}

/// A certificate of this workstation that can serve as an encryption bi-clé (public data only): from the OS store,
/// or on a card (token) with its private key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct BicleCandidate {
    pub sha256: String,
    /// Holder's name (subject CN), or the subject.
    pub holder: String,
    /// Issuer's short name (issuer CN), or the issuer.
    pub issuer_name: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub days_left: i32,
    /// `store` (the OS certificate store) or `token` (a smartcard or other PKCS#11 token).
    pub source: String,
    /// The token's label when `source` is `token`.
    pub token: Option<String>,
}

#[cfg(feature = "portal")]
pub(super) fn session(lang: Lang) -> Result<std::sync::Arc<crate::portal::Session>, ApiError> {
    crate::portal::Session::shared().map_err(|e| ApiError::from_coded(&e, lang))
}

#[cfg(feature = "portal")]
pub(super) fn bicle_row(b: crate::portal::Bicle) -> BicleRow {
    let expired = time::OffsetDateTime::parse(&b.not_after, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t < time::OffsetDateTime::now_utc());
    BicleRow {
        id: b.id.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        kind: b.kind.into(),
        designation: b.designation,
        cn: b.cn,
        issuer: b.issuer,
        serial: b.serial,
        not_after: b.not_after,
        sha256: b.sha256,
        status: BicleStatus::parse(&b.status),
        expired,
    }
}

gated! { feature = "portal", "portal";
    /// The agent's bi-clés registered with the paired portal.
    pub fn portal_bicles(_req: (), lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
        let s = session(lang)?;
        let list = block_on(lang, s.list_bicles())?.map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(list.into_iter().map(bicle_row).collect())
    }
}

gated! { feature = "portal", "portal";
    /// The certificates this workstation can register as bi-clés: the portal module's own listing (the one a portal
    /// page gets through the channel), store certificates first, then card certificates with their private key.
    pub fn portal_bicle_candidates(_req: (), lang: Lang) -> Result<Vec<BicleCandidate>, ApiError> {
        use crate::portal::Workstation;
        let offered = crate::portal::SystemWorkstation { lang }.list().map_err(|e| ApiError::from_coded(&e, lang))?;
        let now = time::OffsetDateTime::now_utc();
        Ok(offered
            .into_iter()
            .map(|o| {
                let days_left = time::OffsetDateTime::parse(&o.not_after, &time::format_description::well_known::Rfc3339)
                    .map(|t| (t - now).whole_days().clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                    .unwrap_or(0);
                BicleCandidate {
                    holder: o.subject_cn.unwrap_or(o.subject),
                    issuer_name: o.issuer_cn.unwrap_or(o.issuer),
                    sha256: o.sha256,
                    not_after: o.not_after,
                    days_left,
                    source: o.source.into(),
                    token: o.token,
                }
            })
            .collect())
    }
}

gated! { feature = "portal", "portal";
    /// Registers a certificate of the store or of a card (with its private key, usable for encryption) as personal
    /// and/or backup bi-clé; the rows wait for the agent's confirmation on the portal page. The certificate is found
    /// the way the portal's relayed requests find it ([`crate::portal::Workstation::certificate`]: store, then tokens);
    /// only its public part is sent.
    pub fn portal_bicle_add(req: BicleAdd, lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
        use crate::portal::BicleSource;
        let kinds = crate::portal::bicle_kinds(req.personal, req.backup).map_err(|e| ApiError::from_coded(&e, lang))?;
        let source = if req.generate {
            BicleSource::Generate { designation: &req.designation }
        } else {
            BicleSource::Existing { sha256: &req.sha256 }
        };
        let certificate = crate::portal::bicle_certificate(&crate::portal::SystemWorkstation { lang }, source)
            .map_err(|e| ApiError::from_coded(&e, lang))?;
        let s = session(lang)?;
        let rows = block_on(lang, s.add_bicles(req.designation.trim(), &certificate, &kinds))?
            .map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(rows.into_iter().map(bicle_row).collect())
    }
}

gated! { feature = "portal", "portal";
    /// Asks the portal to remove a bi-clé (an active one waits for the agent's confirmation); returns the new status.
    pub fn portal_bicle_remove(req: BicleRef, lang: Lang) -> Result<BicleStatus, ApiError> {
        let s = session(lang)?;
        let status = block_on(lang, s.remove_bicle(req.id as i64))?.map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(BicleStatus::parse(&status))
    }
}

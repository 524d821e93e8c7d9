//! The objects of the NSS token: certificates, keys and trust objects read and written through softokn's PKCS#11
//! interface, and what NSS indexes them by (raw names, DER serial, the key ID derived from the public key).

use super::*;

// NSS vendor constants (nss/lib/util/pkcs11n.h).
pub(super) const CKO_NSS_TRUST: u64 = 0xCE53_4353;
pub(super) const CKA_CLASS: u64 = 0x0000_0000;
pub(super) const CKA_NSS_DB: u64 = 0xD5A0_DB00;
pub(super) const CKA_TRUST_SERVER_AUTH: u64 = 0xCE53_6358;
pub(super) const CKA_TRUST_EMAIL_PROTECTION: u64 = 0xCE53_635B;
pub(super) const CKT_NSS_TRUSTED_DELEGATOR: u64 = 0xCE53_4352;

impl NssStore {
    /// Raw certificate objects of the token.
    pub(super) fn raw_certs(&self, s: &Session) -> Result<Vec<RawCert>, StoreError> {
        let handles = s
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Token(true)])
            .map_err(|e| self.backend("list certificates", e))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let attrs = s
                .get_attributes(
                    h,
                    &[AttributeType::Value, AttributeType::Subject, AttributeType::Label, AttributeType::Id],
                )
                .map_err(|e| self.backend("read certificate", e))?;
            let mut raw = RawCert { handle: h, der: Vec::new(), subject: Vec::new(), label: None, id: None };
            for a in attrs {
                match a {
                    Attribute::Value(v) => raw.der = v,
                    Attribute::Subject(v) => raw.subject = v,
                    Attribute::Label(l) if !l.is_empty() => raw.label = Some(String::from_utf8_lossy(&l).into_owned()),
                    Attribute::Id(i) if !i.is_empty() => raw.id = Some(i),
                    _ => {}
                }
            }
            if !raw.der.is_empty() {
                out.push(raw);
            }
        }
        Ok(out)
    }

    /// `CKA_ID`s of the private keys of the token.
    pub(super) fn key_ids(&self, s: &Session) -> Result<HashSet<Vec<u8>>, StoreError> {
        let handles = s
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Token(true)])
            .map_err(|e| self.backend("list keys", e))?;
        let mut ids = HashSet::new();
        for h in handles {
            for a in s.get_attributes(h, &[AttributeType::Id]).map_err(|e| self.backend("read key", e))? {
                if let Attribute::Id(i) = a {
                    ids.insert(i);
                }
            }
        }
        Ok(ids)
    }

    /// (issuer DER, serial DER) of the certificates trusted as authorities for TLS or e-mail.
    pub(super) fn trusted(&self, s: &Session) -> Result<HashSet<TrustKey>, StoreError> {
        let class = Attribute::VendorDefined((AttributeType::VendorDefined(CKA_CLASS), ulong_bytes(CKO_NSS_TRUST)));
        let handles = s.find_objects(&[class]).map_err(|e| self.backend("list trust", e))?;
        let mut out = HashSet::new();
        for h in handles {
            let attrs = s
                .get_attributes(
                    h,
                    &[
                        AttributeType::Issuer,
                        AttributeType::SerialNumber,
                        AttributeType::VendorDefined(CKA_TRUST_SERVER_AUTH),
                        AttributeType::VendorDefined(CKA_TRUST_EMAIL_PROTECTION),
                    ],
                )
                .map_err(|e| self.backend("read trust", e))?;
            let (mut issuer, mut serial, mut delegator) = (Vec::new(), Vec::new(), false);
            for a in attrs {
                match a {
                    Attribute::Issuer(v) => issuer = v,
                    Attribute::SerialNumber(v) => serial = v,
                    Attribute::VendorDefined((_, v)) => delegator |= read_ulong(&v) == Some(CKT_NSS_TRUSTED_DELEGATOR),
                    _ => {}
                }
            }
            if delegator {
                out.insert((issuer, serial));
            }
        }
        Ok(out)
    }

    pub(super) fn find_raw(&self, s: &Session, sha256: &str) -> Result<RawCert, StoreError> {
        let wanted = crate::store::normalize_fingerprint(sha256)?;
        self.raw_certs(s)?
            .into_iter()
            .find(|c| hex::encode(sha2::Sha256::digest(&c.der)) == wanted)
            .ok_or(StoreError::NotFound { sha256: wanted, store: self.name() })
    }

    pub(super) fn private_key(&self, s: &Session, id: &[u8]) -> Result<Option<ObjectHandle>, StoreError> {
        let found = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Token(true),
                Attribute::Id(id.to_vec()),
            ])
            .map_err(|e| self.backend("find key", e))?;
        Ok(found.into_iter().next())
    }

    /// A nickname for a certificate of `subject`: the one NSS already uses for that subject (NSS requires it),
    /// else `wanted`, made unique.
    pub(super) fn nickname_for(
        &self,
        existing: &[RawCert],
        added: &[(Vec<u8>, String)],
        subject: &[u8],
        wanted: &str,
    ) -> String {
        let known = existing.iter().filter_map(|c| c.label.as_ref().map(|l| (c.subject.as_slice(), l)));
        let mut all = known.chain(added.iter().map(|(s, l)| (s.as_slice(), l)));
        if let Some((_, label)) = all.clone().find(|(s, _)| *s == subject) {
            return label.clone();
        }
        let taken: HashSet<&str> = all.by_ref().map(|(_, l)| l.as_str()).collect();
        let base = if wanted.trim().is_empty() { "Certificat" } else { wanted.trim() };
        let mut candidate = base.to_string();
        let mut n = 2;
        while taken.contains(candidate.as_str()) {
            candidate = format!("{base} ({n})");
            n += 1;
        }
        candidate
    }

    pub(super) fn create_cert(
        &self,
        s: &Session,
        c: &Certificate,
        parts: &CertParts,
        label: &str,
    ) -> Result<ObjectHandle, StoreError> {
        s.create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(c.der.clone()),
            Attribute::Subject(parts.subject.clone()),
            Attribute::Issuer(parts.issuer.clone()),
            Attribute::SerialNumber(parts.serial_der.clone()),
            Attribute::Id(parts.key_id.clone()),
        ])
        .map_err(|e| self.backend("add certificate", e))
    }

    /// Unwraps `pkcs8` into a token private key under a session AES key: the key is encrypted between our memory
    /// and softokn's, exactly the path `pk12util` takes.
    pub(super) fn create_key(
        &self,
        s: &Session,
        pkcs8: &[u8],
        parts: &CertParts,
        label: &str,
    ) -> Result<ObjectHandle, StoreError> {
        let aes = session_aes_key(s).map_err(|e| self.backend("prepare key import", e))?;
        let iv = random_iv(s).map_err(|e| self.backend("prepare key import", e))?;
        let wrapped =
            s.encrypt(&Mechanism::AesCbcPad(iv), aes, pkcs8).map_err(|e| self.backend("prepare key import", e));
        let wrapped = match wrapped {
            Ok(w) => w,
            Err(e) => {
                let _ = s.destroy_object(aes);
                return Err(e);
            }
        };
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Id(parts.key_id.clone()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Sign(true),
        ];
        match parts.key_type {
            KeyKind::Rsa => template.extend([
                Attribute::KeyType(KeyType::RSA),
                Attribute::Decrypt(true),
                Attribute::Unwrap(true),
                Attribute::SignRecover(true),
            ]),
            // softokn wants the public point beside a token EC key (as PK11_ImportPrivateKeyInfo gives it).
            KeyKind::Ec => template.extend([
                Attribute::KeyType(KeyType::EC),
                Attribute::Derive(true),
                Attribute::VendorDefined((AttributeType::VendorDefined(CKA_NSS_DB), parts.public_value.clone())),
            ]),
        }
        let key = s.unwrap_key(&Mechanism::AesCbcPad(iv), aes, &wrapped, &template);
        let _ = s.destroy_object(aes);
        key.map_err(|e| self.backend("add private key", e))
    }

    pub(super) fn extract_key(
        &self,
        s: &Session,
        key: ObjectHandle,
        sha256: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        use cryptoki::error::{Error, RvError};
        let failed = |e: &dyn std::fmt::Display| self.backend("export key", e);
        let aes = session_aes_key(s).map_err(|e| failed(&e))?;
        let result = (|| {
            let iv = random_iv(s).map_err(|e| failed(&e))?;
            let wrapped = s.wrap_key(&Mechanism::AesCbcPad(iv), aes, key).map_err(|e| match e {
                Error::Pkcs11(RvError::KeyUnextractable, _) => StoreError::NotExportable { sha256: sha256.to_string() },
                other => failed(&other),
            })?;
            // cryptoki returns softokn's size estimate (input + two blocks), not the length actually written: the
            // ciphertext is the first whole blocks of it. Try the candidate lengths, longest first, and keep the one
            // whose plaintext is exactly one DER SEQUENCE (a wrong length fails the padding or that check).
            let longest = wrapped.len() / 16 * 16;
            let mut last = String::from("no ciphertext");
            for len in (16..=longest).rev().step_by(16).take(4) {
                match s.decrypt(&Mechanism::AesCbcPad(iv), aes, &wrapped[..len]) {
                    Ok(plain) => {
                        let plain = Zeroizing::new(plain);
                        if ber::is_one_sequence(&plain) {
                            return Ok(plain);
                        }
                        last = "unexpected key encoding".into();
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Err(failed(&last))
        })();
        let _ = s.destroy_object(aes);
        result
    }
}

/// (issuer DER, serial DER): how NSS trust objects name their certificate.
pub(super) type TrustKey = (Vec<u8>, Vec<u8>);

pub(super) struct RawCert {
    pub(super) handle: ObjectHandle,
    pub(super) der: Vec<u8>,
    /// `CKA_SUBJECT`: the DER subject name.
    pub(super) subject: Vec<u8>,
    pub(super) label: Option<String>,
    pub(super) id: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Rsa,
    Ec,
}

/// What NSS indexes a certificate by: raw subject/issuer names, DER serial, and the key ID NSS derives from the
/// public key (SHA-1 of the RSA modulus or of the EC point, `pk11_mkcertKeyID`).
pub(super) struct CertParts {
    pub(super) subject: Vec<u8>,
    pub(super) issuer: Vec<u8>,
    pub(super) serial_der: Vec<u8>,
    pub(super) key_id: Vec<u8>,
    pub(super) key_type: KeyKind,
    /// RSA modulus or EC point: NSS stores it with a token key (`CKA_NSS_DB`).
    pub(super) public_value: Vec<u8>,
}

impl CertParts {
    pub(super) fn parse(der: &[u8]) -> Result<CertParts, String> {
        use x509_parser::prelude::*;
        let (_, x) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        // NSS's CKA_ID and public value: the RSA modulus or the EC point, as "same public key" defines them.
        let (key_type, index) = match public_key_of_spki(x.public_key().raw) {
            Some(PublicKeyId::Rsa { modulus }) => (KeyKind::Rsa, modulus),
            Some(PublicKeyId::Point { algorithm, point }) if algorithm == OID_EC => (KeyKind::Ec, point),
            Some(PublicKeyId::Point { algorithm, .. }) => return Err(format!("unsupported key algorithm {algorithm}")),
            None => return Err("unreadable public key".into()),
        };
        let key_id = if index.len() <= 20 { index.clone() } else { sha1::Sha1::digest(&index).to_vec() };
        Ok(CertParts {
            subject: x.tbs_certificate.subject.as_raw().to_vec(),
            issuer: x.tbs_certificate.issuer.as_raw().to_vec(),
            serial_der: {
                let mut serial = Vec::new();
                ber::push_tlv(0x02, x.tbs_certificate.raw_serial(), &mut serial);
                serial
            },
            key_id,
            key_type,
            public_value: index,
        })
    }
}

#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit Linux
pub(super) fn ulong_bytes(v: u64) -> Vec<u8> {
    (v as std::os::raw::c_ulong).to_ne_bytes().to_vec()
}

#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit Linux
pub(super) fn read_ulong(b: &[u8]) -> Option<u64> {
    let arr: [u8; std::mem::size_of::<std::os::raw::c_ulong>()] = b.try_into().ok()?;
    Some(std::os::raw::c_ulong::from_ne_bytes(arr) as u64)
}

pub(super) fn session_aes_key(s: &Session) -> cryptoki::error::Result<ObjectHandle> {
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ],
    )
}

pub(super) fn random_iv(s: &Session) -> cryptoki::error::Result<[u8; 16]> {
    let mut iv = [0u8; 16];
    s.generate_random_slice(&mut iv)?;
    Ok(iv)
}

pub(super) fn to_stored(
    raw: &RawCert,
    keys: &HashSet<Vec<u8>>,
    trusted: &HashSet<TrustKey>,
) -> Option<StoredCertificate> {
    let certificate = cert::parse_der(&raw.der).ok()?;
    let has_key = raw.id.as_ref().is_some_and(|id| keys.contains(id));
    let mut stored = StoredCertificate::new(certificate, raw.label.clone(), raw.id.clone(), has_key);
    if !trusted.is_empty() {
        if let Ok(parts) = CertParts::parse(&raw.der) {
            stored.trusted = trusted.contains(&(parts.issuer, parts.serial_der));
        }
    }
    Some(stored)
}

impl NssStore {
    /// RSA decryption inside softokn (`C_Decrypt`): the key never leaves NSS's database.
    pub(super) fn decrypt_in_softokn(
        &self,
        sha256: &str,
        padding: crate::token::DecryptPadding,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.with_session(|s| {
            let raw = self.find_raw(s, sha256)?;
            let no_key = || StoreError::NoPrivateKey { sha256: sha256.to_string(), store: self.name() };
            let id = raw.id.clone().ok_or_else(no_key)?;
            let key = self.private_key(s, &id)?.ok_or_else(no_key)?;
            s.decrypt(&padding.mechanism(), key, data)
                .map(Zeroizing::new)
                .map_err(|e| StoreError::Decrypt { detail: e.to_string() })
        })
    }
}

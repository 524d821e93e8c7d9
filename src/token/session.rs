//! Login with a PIN, and what a logged-in session can do: list keys, decrypt, generate an RSA-2048 pair.
//!
//! The PIN is moved into [`Pin`] (a `SecretString`, zeroized when dropped) and from there into the worker, where
//! it is dropped right after `C_Login`. Before trying it, the token's flags are read: a locked PIN is never tried.

use super::host;
use super::wire::{expect_reply, RawCertificate, Reply, Request, WirePin};
use super::worker::{self, Op, State};
use super::{device, locate, PinState, Token, TokenError};
use crate::token::objects::{pair_certificates, read_certificates, TokenCertificate};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use secrecy::SecretString;
use serde::Serialize;
use zeroize::Zeroizing;

/// A PIN: moved in, never copied, never printed, zeroized when dropped. It crosses to a module's helper process
/// only inside a wiped frame ([`super::wire::WirePin`]).
pub struct Pin(pub(super) SecretString);

impl Pin {
    /// Takes the PIN out of a zeroizing string (the original buffer is wiped when `pin` drops).
    pub fn new(pin: Zeroizing<String>) -> Pin {
        // Exact capacity, so that turning it into a boxed str never reallocates and leaves a copy behind.
        let mut s = String::with_capacity(pin.len());
        s.push_str(&pin);
        Pin(SecretString::from(s))
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// RSA decryption paddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptPadding {
    /// PKCS#1 v1.5 (`CKM_RSA_PKCS`).
    Pkcs1v15,
    /// OAEP with SHA-1 for the hash and MGF1 (OpenSSL's default `rsa_padding_mode:oaep`).
    OaepSha1,
    /// OAEP with SHA-256 for the hash and MGF1.
    OaepSha256,
}

impl DecryptPadding {
    /// The PKCS#11 mechanism (for a card, and for NSS softokn, which is a PKCS#11 module too).
    pub(crate) fn mechanism(self) -> Mechanism<'static> {
        match self {
            DecryptPadding::Pkcs1v15 => Mechanism::RsaPkcs,
            DecryptPadding::OaepSha1 => Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::empty(),
            )),
            DecryptPadding::OaepSha256 => Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
                MechanismType::SHA256,
                PkcsMgfType::MGF1_SHA256,
                PkcsOaepSource::empty(),
            )),
        }
    }
}

/// Key algorithm of a key on the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    Rsa,
    Ec,
    Other,
}

/// A private key on the token.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TokenKeyInfo {
    /// `CKA_ID`, lowercase hex.
    pub key_id: String,
    pub label: String,
    pub algorithm: KeyAlgorithm,
    /// RSA modulus size.
    pub bits: Option<u32>,
    pub can_sign: bool,
    pub can_decrypt: bool,
}

/// A logged-in session on a token, kept on the PKCS#11 worker. Logs out and closes when dropped.
#[derive(Debug)]
pub struct TokenSession {
    pub(crate) id: u64,
    pub(crate) generation: u64,
    token: Token,
}

/// Logs in to `token` with `pin`.
///
/// Refuses without trying when the token says the PIN is locked. A wrong PIN gives [`TokenError::WrongPin`] with
/// what the token now says about the remaining tries; the PIN that made the lock gives [`TokenError::PinLocked`].
pub fn login(token: &Token, pin: Pin) -> Result<TokenSession, TokenError> {
    login_inner(token, Some(pin))
}

/// Logs in to a token whose reader has a PIN pad (`pin.protected_path`): the user types the PIN on the reader,
/// which may take a while (the login time limit is 120 s). Same errors as [`login`].
pub fn login_protected(token: &Token) -> Result<TokenSession, TokenError> {
    login_inner(token, None)
}

fn login_inner(token: &Token, pin: Option<Pin>) -> Result<TokenSession, TokenError> {
    let generation = host::current_generation(&token.module)?;
    let req = Request::Login { token: token.clone(), pin: pin.map(WirePin) };
    let reply = host::call(&token.module, Some(generation), req)?;
    let id = expect_reply!(reply, Reply::Session(id) => id)?;
    Ok(TokenSession { id, generation, token: token.clone() })
}

/// [`login`] where the module lives: the session stays open there, under the returned id.
pub(super) fn login_on(state: &mut State, t: &Token, pin: Option<Pin>) -> Result<u64, TokenError> {
    state.open_session(&t.module, move |ctx| {
        let (slot, info) = locate(ctx, t)?;
        if info.flags & super::flags::USER_PIN_LOCKED != 0 {
            return Err(TokenError::PinLocked);
        }
        let session =
            ctx.open_rw_session(slot).or_else(|_| ctx.open_ro_session(slot)).map_err(|e| device(Op::Login, &e))?;
        let result = session.login(UserType::User, pin.as_ref().map(|p| &p.0));
        drop(pin);
        match result {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok((session, slot)),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let state = super::token_facts(ctx, &t.module, slot)
                    .map(|i| PinState::from_flags(i.flags))
                    .unwrap_or(PinState::CountLow);
                if state == PinState::Locked {
                    Err(TokenError::PinLockedNow)
                } else {
                    Err(TokenError::WrongPin { state })
                }
            }
            // The token had not flagged the lock before this attempt: this PIN locked it.
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::PinLockedNow),
            Err(e) => Err(device(Op::Login, &e)),
        }
    })
}

impl TokenSession {
    /// The token this session is logged in to.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Sends a request about this session to where the session lives.
    pub(crate) fn call(&self, req: Request) -> Result<Reply, TokenError> {
        host::call(&self.token.module, Some(self.generation), req)
    }

    /// Certificates with their keys, private objects included.
    pub fn certificates(&self) -> Result<Vec<TokenCertificate>, TokenError> {
        let reply = self.call(Request::SessionCertificates { session: self.id, serial: self.token.serial.clone() })?;
        let raw = expect_reply!(reply, Reply::Certificates(c) => c)?;
        Ok(pair_certificates(raw, &self.token.label))
    }

    /// The private keys on the token.
    pub fn keys(&self) -> Result<Vec<TokenKeyInfo>, TokenError> {
        let reply = self.call(Request::Keys { session: self.id, serial: self.token.serial.clone() })?;
        expect_reply!(reply, Reply::Keys(k) => k)
    }

    /// Decrypts `data` with the private key `key_id` (CKA_ID bytes). The plaintext is zeroized when dropped.
    pub fn decrypt(
        &self,
        key_id: &[u8],
        padding: DecryptPadding,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let req = Request::Decrypt {
            session: self.id,
            serial: self.token.serial.clone(),
            key_id: key_id.to_vec(),
            padding,
            data: data.to_vec(),
        };
        let reply = self.call(req)?;
        expect_reply!(reply, Reply::Plain(p) => p.0)
    }

    /// Creates an RSA-2048 key pair on the token (private key sensitive and not extractable, usable to sign and
    /// decrypt). `key_id` is its CKA_ID; a random 20-byte id is chosen when `None`. Returns the id.
    pub fn generate_rsa_2048(&self, label: &str, key_id: Option<&[u8]>) -> Result<Vec<u8>, TokenError> {
        let id = match key_id {
            Some(id) => id.to_vec(),
            None => {
                use rand::RngCore;
                let mut id = vec![0u8; 20];
                rand::thread_rng().fill_bytes(&mut id);
                id
            }
        };
        let req = Request::Generate {
            session: self.id,
            serial: self.token.serial.clone(),
            label: label.to_string(),
            key_id: id,
        };
        let reply = self.call(req)?;
        expect_reply!(reply, Reply::Bytes(id) => id)
    }

    /// Which decryption paddings the token announces for RSA (from its mechanism list; OAEP's hash choice
    /// is only known by trying: see the tests).
    pub fn mechanisms(&self) -> Result<Vec<String>, TokenError> {
        let reply = self.call(Request::Mechanisms { session: self.id })?;
        expect_reply!(reply, Reply::Strings(m) => m)
    }

    /// Logs out and closes the session now (also done on drop).
    pub fn logout(self) {}
}

impl Drop for TokenSession {
    fn drop(&mut self) {
        let _ = self.call(Request::Close { session: self.id });
    }
}

/// Runs `f` with session `id`'s cryptoki session, telling a removed card apart from other failures.
pub(crate) fn with_session<T>(
    state: &State,
    id: u64,
    serial: &str,
    op: Op,
    f: impl FnOnce(&Session) -> Result<T, TokenError>,
) -> Result<T, TokenError> {
    let r = f(&state.session(id)?.session);
    removed_if_gone(state, id, serial, op, r)
}

/// [`TokenSession::certificates`] where the module lives.
pub(super) fn certificates_on(state: &mut State, id: u64, serial: &str) -> Result<Vec<RawCertificate>, TokenError> {
    with_session(state, id, serial, Op::List, read_certificates)
}

/// [`TokenSession::keys`] where the module lives.
pub(super) fn keys_on(state: &mut State, id: u64, serial: &str) -> Result<Vec<TokenKeyInfo>, TokenError> {
    with_session(state, id, serial, Op::List, |s| {
        let handles =
            s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)]).map_err(|e| device(Op::List, &e))?;
        let mut out = Vec::new();
        for h in handles {
            let attrs = s
                .get_attributes(
                    h,
                    &[
                        AttributeType::Id,
                        AttributeType::Label,
                        AttributeType::KeyType,
                        AttributeType::Modulus,
                        AttributeType::Sign,
                        AttributeType::Decrypt,
                    ],
                )
                .map_err(|e| device(Op::List, &e))?;
            let mut k = TokenKeyInfo {
                key_id: String::new(),
                label: String::new(),
                algorithm: KeyAlgorithm::Other,
                bits: None,
                can_sign: false,
                can_decrypt: false,
            };
            for a in attrs {
                match a {
                    Attribute::Id(v) => k.key_id = hex::encode(v),
                    Attribute::Label(v) => k.label = String::from_utf8_lossy(&v).trim().to_string(),
                    Attribute::KeyType(t) if t == KeyType::RSA => k.algorithm = KeyAlgorithm::Rsa,
                    Attribute::KeyType(t) if t == KeyType::EC => k.algorithm = KeyAlgorithm::Ec,
                    Attribute::Modulus(m) => k.bits = Some(modulus_bits(&m)),
                    Attribute::Sign(b) => k.can_sign = b,
                    Attribute::Decrypt(b) => k.can_decrypt = b,
                    _ => {}
                }
            }
            out.push(k);
        }
        Ok(out)
    })
}

/// [`TokenSession::decrypt`] where the module lives.
pub(super) fn decrypt_on(
    state: &mut State,
    sid: u64,
    serial: &str,
    id: &[u8],
    padding: DecryptPadding,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    with_session(state, sid, serial, Op::Decrypt, |s| {
        let key = find_key(s, ObjectClass::PRIVATE_KEY, id)?;
        match s.decrypt(&padding.mechanism(), key, data) {
            Ok(plain) => Ok(Zeroizing::new(plain)),
            Err(CkError::Pkcs11(
                // SoftHSM2 reports a padding check failure as CKR_GENERAL_ERROR.
                rv @ (RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::GeneralError),
                _,
            )) => Err(TokenError::Decrypt { detail: format!("{rv:?}") }),
            // SoftHSM2 2.6.1 answers CKR_ARGUMENTS_BAD to OAEP parameters it does not do (any hash but SHA-1).
            Err(CkError::Pkcs11(rv @ RvError::ArgumentsBad, _)) if padding != DecryptPadding::Pkcs1v15 => {
                Err(TokenError::Unsupported { what: format!("{padding:?} ({rv:?})") })
            }
            Err(CkError::Pkcs11(rv @ (RvError::MechanismInvalid | RvError::MechanismParamInvalid), _)) => {
                Err(TokenError::Unsupported { what: format!("{padding:?} ({rv:?})") })
            }
            Err(e) => Err(device(Op::Decrypt, &e)),
        }
    })
}

/// [`TokenSession::generate_rsa_2048`] where the module lives.
pub(super) fn generate_on(
    state: &mut State,
    sid: u64,
    serial: &str,
    label: &str,
    id: Vec<u8>,
) -> Result<Vec<u8>, TokenError> {
    let label = label.as_bytes().to_vec();
    with_session(state, sid, serial, Op::Generate, move |s| {
        if find_key(s, ObjectClass::PRIVATE_KEY, &id).is_ok() {
            return Err(TokenError::Device {
                operation: Op::Generate.name(),
                detail: format!("a key with id {} already exists", hex::encode(&id)),
            });
        }
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Id(id.clone()),
            Attribute::Label(label.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Id(id.clone()),
            Attribute::Label(label),
        ];
        s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private).map_err(|e| device(Op::Generate, &e))?;
        Ok(id)
    })
}

/// [`TokenSession::mechanisms`] where the module lives.
pub(super) fn mechanisms_on(state: &mut State, id: u64) -> Result<Vec<String>, TokenError> {
    let (slot, module) = {
        let s = state.session(id)?;
        (s.slot, s.module.clone())
    };
    let ctx = state.module_ctx(&module).ok_or(TokenError::SessionLost)?;
    let list = ctx.get_mechanism_list(slot).map_err(|e| device(Op::List, &e))?;
    Ok(list.iter().map(|m| m.to_string()).collect())
}

/// A key that vanished, or a device error, may mean the card is gone: say so if it is.
pub(crate) fn removed_if_gone<T>(
    state: &worker::State,
    id: u64,
    serial: &str,
    op: Op,
    r: Result<T, TokenError>,
) -> Result<T, TokenError> {
    match r {
        Err(TokenError::KeyNotFound { .. } | TokenError::Device { .. }) if !state.still_present(id, serial) => {
            Err(TokenError::Removed { operation: op.name() })
        }
        r => r,
    }
}

/// The object of `class` whose CKA_ID is `id`.
pub(crate) fn find_key(s: &Session, class: ObjectClass, id: &[u8]) -> Result<ObjectHandle, TokenError> {
    let found =
        s.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())]).map_err(|e| device(Op::List, &e))?;
    found.into_iter().next().ok_or_else(|| TokenError::KeyNotFound { id: hex::encode(id) })
}

fn modulus_bits(m: &[u8]) -> u32 {
    let m = match m.iter().position(|b| *b != 0) {
        Some(i) => &m[i..],
        None => return 0,
    };
    (m.len() as u32 - 1) * 8 + (8 - m[0].leading_zeros())
}

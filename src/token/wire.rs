//! What crosses the pipe between Trousseau and a module's helper process ([`super::host`]): one [`Request`] per
//! PKCS#11 operation, answered by one `Result<`[`Reply`]`, `[`TokenError`]`>`.
//!
//! Frames are a 4-byte little-endian length followed by JSON (serde_json: the crate every other wire format of
//! Trousseau uses; nothing here is hand-parsed). Requests and replies that may carry a secret (PINs, decrypted
//! keys) are serialised into a buffer of exactly the right size that is wiped when dropped, on both sides: a
//! PIN exists in the two processes only for the time of the call.
//!
//! The same [`Request::run`] serves both transports: in a helper process, and on the in-process worker thread
//! when no helper can be started (unit tests, `TROUSSEAU_PKCS11_IN_PROCESS=1`), so the two cannot drift.

use super::pin::PinEntry;
use super::session::{DecryptPadding, Pin, TokenKeyInfo};
use super::worker::{Op, State};
use super::{Module, PinRules, Token, TokenError};
use crate::i18n::Lang;
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The largest frame accepted (a token with many certificates stays far below).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// A PIN on the wire: serialised only here, never by the rest of the code ([`Pin`] is not `Serialize`).
pub(crate) struct WirePin(pub Pin);

/// As hex: a PIN with a quote, a backslash or a control character would otherwise be unescaped by serde_json
/// through a scratch buffer that is freed unwiped.
impl Serialize for WirePin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(self.0 .0.expose_secret().as_bytes()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for WirePin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = WireSecret::deserialize(d)?;
        // `String::from_utf8` takes the buffer as is (exact size, no copy); on failure it is wiped with the error.
        let mut raw = bytes.0;
        let taken = std::mem::take(&mut *raw);
        match String::from_utf8(taken) {
            Ok(text) => Ok(WirePin(Pin(secrecy::SecretString::from(text)))),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(serde::de::Error::custom("a PIN that is not text"))
            }
        }
    }
}

/// Secret bytes (a decrypted key) on the wire, as hex decoded straight into a wiped buffer.
pub(crate) struct WireSecret(pub Zeroizing<Vec<u8>>);

impl Serialize for WireSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(&*self.0));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for WireSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WireSecret;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("hex bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireSecret, E> {
                let mut out = Zeroizing::new(vec![0u8; v.len() / 2]);
                hex::decode_to_slice(v, &mut out[..]).map_err(E::custom)?;
                Ok(WireSecret(out))
            }
        }
        d.deserialize_str(V)
    }
}

/// A certificate object as the module gives it; parsed by the caller (parsing is not the module's business).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RawCertificate {
    pub der: Vec<u8>,
    pub id: Vec<u8>,
    pub label: String,
    /// A key object (private, or public before login) carries the same `CKA_ID`.
    pub has_key: bool,
}

/// How a key on the token signs (see `signer.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SignWith {
    /// `CKM_SHA256_RSA_PKCS`: the token hashes.
    Sha256RsaPkcs,
    /// `CKM_RSA_PKCS` over a DigestInfo we build (cards that only offer raw PKCS#1 signing).
    RsaPkcsDigestInfo,
    /// `CKM_ECDSA` over our SHA-256 digest (P-256).
    EcdsaP256,
    /// `CKM_ECDSA` over our SHA-384 digest (P-384).
    EcdsaP384,
}

/// One PKCS#11 operation. Session ids are those of the process that opened the session.
#[derive(Serialize, Deserialize)]
pub(crate) enum Request {
    Probe {
        module: PathBuf,
    },
    Tokens {
        module: PathBuf,
        lang: Lang,
    },
    Certificates {
        token: Token,
    },
    PinRules {
        token: Token,
    },
    ChangePin {
        token: Token,
        entry: PinEntry,
    },
    /// `entry`'s `old` is the unblocking code (PUK / SO PIN).
    UnblockPin {
        token: Token,
        entry: PinEntry,
    },
    Login {
        token: Token,
        pin: Option<WirePin>,
    },
    SessionCertificates {
        session: u64,
        serial: String,
    },
    Keys {
        session: u64,
        serial: String,
    },
    Decrypt {
        session: u64,
        serial: String,
        key_id: Vec<u8>,
        padding: DecryptPadding,
        data: Vec<u8>,
    },
    Generate {
        session: u64,
        serial: String,
        label: String,
        key_id: Vec<u8>,
    },
    Mechanisms {
        session: u64,
    },
    DescribeKey {
        session: u64,
        serial: String,
        key_id: Vec<u8>,
    },
    Sign {
        session: u64,
        serial: String,
        key_id: Vec<u8>,
        with: SignWith,
        data: Vec<u8>,
    },
    Close {
        session: u64,
    },
}

/// The answer to a [`Request`].
#[derive(Serialize, Deserialize)]
pub(crate) enum Reply {
    Done,
    Module(Module),
    Tokens(Vec<Token>),
    Certificates(Vec<RawCertificate>),
    PinRules(Option<PinRules>),
    Session(u64),
    Keys(Vec<TokenKeyInfo>),
    Plain(WireSecret),
    Bytes(Vec<u8>),
    Strings(Vec<String>),
    Key { public: Vec<u8>, with: SignWith },
}

impl Request {
    /// The operation, for its time limit and for messages.
    pub(crate) fn op(&self) -> Op {
        match self {
            Request::Probe { .. } => Op::Probe,
            Request::Tokens { .. }
            | Request::Certificates { .. }
            | Request::PinRules { .. }
            | Request::SessionCertificates { .. }
            | Request::Keys { .. }
            | Request::Mechanisms { .. }
            | Request::DescribeKey { .. } => Op::List,
            Request::ChangePin { .. } | Request::UnblockPin { .. } => Op::SetPin,
            Request::Login { .. } => Op::Login,
            Request::Decrypt { .. } => Op::Decrypt,
            Request::Generate { .. } => Op::Generate,
            Request::Sign { .. } => Op::Sign,
            Request::Close { .. } => Op::Close,
        }
    }

    /// The module a request names (session requests name none: the session's process knows it).
    pub(crate) fn module(&self) -> Option<&Path> {
        match self {
            Request::Probe { module } | Request::Tokens { module, .. } => Some(module),
            Request::Certificates { token }
            | Request::PinRules { token }
            | Request::ChangePin { token, .. }
            | Request::UnblockPin { token, .. }
            | Request::Login { token, .. } => Some(&token.module),
            _ => None,
        }
    }

    /// Performs the request where the module lives (helper process or worker thread).
    pub(crate) fn run(self, state: &mut State) -> Result<Reply, TokenError> {
        use super::{discovery, objects, pin, session};
        match self {
            Request::Probe { module } => discovery::probe_on(state, &module).map(Reply::Module),
            Request::Tokens { module, lang } => super::tokens_on(state, &module, lang).map(Reply::Tokens),
            Request::Certificates { token } => objects::certificates_on(state, &token).map(Reply::Certificates),
            Request::PinRules { token } => pin::pin_rules_on(state, &token).map(Reply::PinRules),
            Request::ChangePin { token, entry } => pin::change_pin_on(state, &token, entry).map(|()| Reply::Done),
            Request::UnblockPin { token, entry } => pin::unblock_pin_on(state, &token, entry).map(|()| Reply::Done),
            Request::Login { token, pin } => session::login_on(state, &token, pin.map(|p| p.0)).map(Reply::Session),
            Request::SessionCertificates { session, serial } => {
                session::certificates_on(state, session, &serial).map(Reply::Certificates)
            }
            Request::Keys { session, serial } => session::keys_on(state, session, &serial).map(Reply::Keys),
            Request::Decrypt { session, serial, key_id, padding, data } => {
                session::decrypt_on(state, session, &serial, &key_id, padding, &data)
                    .map(|p| Reply::Plain(WireSecret(p)))
            }
            Request::Generate { session, serial, label, key_id } => {
                session::generate_on(state, session, &serial, &label, key_id).map(Reply::Bytes)
            }
            Request::Mechanisms { session } => session::mechanisms_on(state, session).map(Reply::Strings),
            #[cfg(feature = "software-keys")]
            Request::DescribeKey { session, serial, key_id } => {
                super::signer::describe_on(state, session, &serial, &key_id)
                    .map(|(public, with)| Reply::Key { public, with })
            }
            #[cfg(feature = "software-keys")]
            Request::Sign { session, serial, key_id, with, data } => {
                super::signer::sign_on(state, session, &serial, &key_id, with, &data).map(Reply::Bytes)
            }
            #[cfg(not(feature = "software-keys"))]
            Request::DescribeKey { .. } | Request::Sign { .. } => {
                Err(TokenError::Unsupported { what: "signature (build without software-keys)".into() })
            }
            Request::Close { session } => {
                state.close_session(session);
                Ok(Reply::Done)
            }
        }
    }
}

impl Reply {
    /// The error for a reply of the wrong kind (a helper of another version, or a bug): never trusted.
    pub(crate) fn unexpected(&self) -> TokenError {
        TokenError::Device { operation: "helper", detail: "unexpected reply from the module's helper process".into() }
    }
}

/// Takes the expected variant out of a reply, or fails with [`Reply::unexpected`].
macro_rules! expect_reply {
    ($reply:expr, $pat:pat => $out:expr) => {
        match $reply {
            $pat => Ok($out),
            other => Err(other.unexpected()),
        }
    };
}
pub(crate) use expect_reply;

/// Operation names travel as text and come back as the `&'static str` [`TokenError`] keeps.
pub(crate) fn static_name<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    const KNOWN: &[&str] = &[
        "module start",
        "token listing",
        "login",
        "signature",
        "decryption",
        "key generation",
        "PIN change",
        "logout",
        "token lookup",
        "worker",
        "helper",
    ];
    Ok(KNOWN.iter().copied().find(|k| *k == s).unwrap_or("PKCS#11 call"))
}

/// Counts the bytes serde_json would write, so the real buffer is allocated once at its final size (a growing
/// buffer leaves unwiped copies of a PIN behind when it reallocates).
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one frame.
pub(crate) fn write_frame<T: Serialize>(w: &mut impl Write, value: &T) -> std::io::Result<()> {
    let mut count = Counter(0);
    serde_json::to_writer(&mut count, value).map_err(std::io::Error::other)?;
    let len = u32::try_from(count.0).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut buf = Zeroizing::new(Vec::with_capacity(4 + count.0));
    buf.extend_from_slice(&len.to_le_bytes());
    serde_json::to_writer(&mut *buf, value).map_err(std::io::Error::other)?;
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame's bytes (`None` at a clean end of stream). The buffer is wiped when dropped.
pub(crate) fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("frame of {len} bytes refused")));
    }
    let mut buf = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_pins_survive_the_trip() {
        let token = Token {
            module: PathBuf::from("/m.so"),
            slot_id: 3,
            slot_description: "r".into(),
            label: "Carte".into(),
            manufacturer: String::new(),
            model: String::new(),
            serial: "42".into(),
            pin: super::super::PinStatus::from_flags(0, Lang::Fr),
            login_required: true,
            removable: true,
        };
        let req = Request::Login { token, pin: Some(WirePin(Pin::new(Zeroizing::new("12\"34é".into())))) };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).expect("write");
        let frame = read_frame(&mut &buf[..]).expect("read").expect("frame");
        match serde_json::from_slice::<Request>(&frame).expect("parse") {
            Request::Login { token, pin: Some(p) } => {
                assert_eq!(token.serial, "42");
                assert_eq!(p.0 .0.expose_secret(), "12\"34é");
            }
            _ => panic!("wrong request"),
        }
        assert!(read_frame(&mut &[][..]).expect("eof").is_none());
    }

    #[test]
    fn errors_cross_the_pipe_with_their_operation_name_and_code() {
        use crate::i18n::Coded;
        for e in [
            TokenError::Timeout { operation: "login", seconds: 3 },
            TokenError::Removed { operation: "decryption" },
            TokenError::Device { operation: "made up", detail: "x".into() },
            TokenError::ModuleCrashed { path: PathBuf::from("/m.so"), detail: "signal 11".into() },
        ] {
            let r: Result<Reply, TokenError> = Err(e.clone());
            let back: Result<Reply, TokenError> =
                serde_json::from_slice(&serde_json::to_vec(&r).expect("ser")).expect("de");
            let back = back.err().expect("error");
            assert_eq!(back.code(), e.code());
        }
        let d = serde_json::to_vec(&TokenError::Device { operation: "made up", detail: "x".into() }).expect("ser");
        let back: TokenError = serde_json::from_slice(&d).expect("de");
        assert!(matches!(back, TokenError::Device { operation: "PKCS#11 call", .. }));
    }

    #[test]
    fn oversized_and_truncated_frames_are_refused() {
        let mut big = (MAX_FRAME as u32 + 1).to_le_bytes().to_vec();
        big.extend_from_slice(b"{}");
        assert!(read_frame(&mut &big[..]).is_err());
        let mut short = 10u32.to_le_bytes().to_vec();
        short.extend_from_slice(b"{}");
        assert!(read_frame(&mut &short[..]).is_err());
    }

    #[test]
    fn secrets_decode_into_an_exact_buffer() {
        let s = WireSecret(Zeroizing::new(vec![1, 2, 0xff]));
        let j = serde_json::to_string(&s).expect("ser");
        assert_eq!(j, "\"0102ff\"");
        let back: WireSecret = serde_json::from_str(&j).expect("de");
        assert_eq!(&*back.0, &[1, 2, 0xff]);
        assert!(serde_json::from_str::<WireSecret>("\"0g\"").is_err());
    }
}

//! The one test PKI, made by OpenSSL (the second implementation): a self-signed CA (`ca.pem`, `ca.key`) in a
//! directory, and the certificates it issues there. Every area builds its CA here, with its own subject.

use super::{openssl, openssl_pw};
use std::path::{Path, PathBuf};

/// Algorithm of a key OpenSSL generates.
#[derive(Clone, Copy, Debug)]
pub enum KeyAlg {
    Rsa2048,
    EcP256,
}

impl KeyAlg {
    /// `openssl req` arguments that generate such a key.
    pub fn newkey_args(self) -> &'static [&'static str] {
        match self {
            KeyAlg::Rsa2048 => &["-newkey", "rsa:2048"],
            KeyAlg::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        }
    }
}

/// A CA in `dir` and the files it issues there.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// Makes `ca.key` (`key`) and the self-signed `ca.pem` in `dir` for `subject` (OpenSSL's form,
    /// "/C=LU/O=Test Org/CN=Test CA"), valid `days` days, marked as a CA (basicConstraints, keyCertSign).
    pub fn new(dir: &Path, subject: &str, key: KeyAlg, days: u32) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let days = days.to_string();
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(key.newkey_args());
        args.extend_from_slice(&[
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            &days,
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &args);
        Pki::at(dir)
    }

    /// The CA that [`Pki::new`] made earlier in `dir`.
    pub fn at(dir: &Path) -> Pki {
        Pki { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The CA signs the request `csr` into `out` (both relative to the directory, or absolute), valid `days` days;
    /// `extra` adds `openssl x509 -req` arguments (serial, extension file, `-copy_extensions`).
    pub fn sign(&self, csr: &str, out: &str, days: u32, extra: &[&str]) {
        let days = days.to_string();
        let mut args = vec!["x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-days", &days];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-out", out]);
        openssl(&self.dir, &args);
    }

    /// Issues `NAME.pem` for `subject` with a new unencrypted key `NAME.key` (`newkey`: `openssl req` key arguments),
    /// the extensions in `ext` (an extension file's text), serial `serial` (`None`: OpenSSL's serial file), valid
    /// `days` days.
    pub fn issue(&self, name: &str, subject: &str, newkey: &[&str], ext: &str, serial: Option<&str>, days: u32) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let ext_file = format!("{name}.ext");
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(&self.dir, &args);
        std::fs::write(self.path(&ext_file), ext).expect("ext file");
        let mut extra = match serial {
            Some(s) => vec!["-set_serial", s],
            None => vec!["-CAcreateserial"],
        };
        extra.extend_from_slice(&["-extfile", &ext_file]);
        self.sign(&csr, &format!("{name}.pem"), days, &extra);
    }

    /// The store and portal tests' root: "/C=LU/O=Trousseau Test/CN={cn}", EC P-256 (fast), ten years.
    pub fn test_root(dir: &Path, cn: &str) -> Pki {
        Pki::new(dir, &format!("/C=LU/O=Trousseau Test/CN={cn}"), KeyAlg::EcP256, 3650)
    }

    /// `NAME.key` + `NAME.pem` for "/C=LU/O=Trousseau Test/CN={cn}". `key` is `rsa` or `ec`; `key_usage` is added
    /// to digitalSignature, e.g. `keyEncipherment`; extended usages clientAuth and emailProtection.
    pub fn leaf(&self, name: &str, cn: &str, key: &str, key_usage: &str) {
        let alg = if key == "rsa" { KeyAlg::Rsa2048 } else { KeyAlg::EcP256 };
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,{key_usage}\n\
             extendedKeyUsage=clientAuth,emailProtection\n"
        );
        self.issue(name, &format!("/C=LU/O=Trousseau Test/CN={cn}"), alg.newkey_args(), &ext, None, 730);
    }

    /// `NAME.p12` with the leaf, its key and the CA, password from the environment (never on argv).
    /// `extra` e.g. `["-legacy"]`, `["-nokeys"]`.
    pub fn p12(&self, name: &str, password: &str, extra: &[&str]) -> PathBuf {
        let out = format!("{name}.p12");
        let name_pem = format!("{name}.pem");
        let name_key = format!("{name}.key");
        let mut args = vec!["pkcs12", "-export", "-in", &name_pem, "-certfile", "ca.pem", "-name", name, "-out", &out];
        args.extend_from_slice(&["-passout", "env:P12PW"]);
        if !extra.contains(&"-nokeys") {
            args.extend_from_slice(&["-inkey", &name_key]);
        }
        args.extend_from_slice(extra);
        openssl_pw(&self.dir, &args, password);
        self.dir.join(out)
    }

    /// SHA-256 fingerprint (lowercase hex) of `NAME.pem`.
    pub fn sha256(&self, name: &str) -> String {
        sha256_of(&self.dir, &format!("{name}.pem"))
    }
}

/// SHA-256 fingerprint (lowercase hex) of the certificate `pem` (relative to `dir`, or absolute), as OpenSSL
/// computes it.
pub fn sha256_of(dir: &Path, pem: &str) -> String {
    let out = openssl(dir, &["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().rsplit('=').next().unwrap_or_default().replace(':', "").to_ascii_lowercase()
}

// ---------------------------------------------------------------------------------------------------------------
// Status services for this CA: OpenSSL's `ca` database (`-valid`, `-revoke`, `-gencrl`), its OCSP responder and a
// loopback HTTP server for CRLs.

/// Extension-file text for a leaf naming its status services: an OCSP responder (AIA) and a CRL distribution point,
/// each optional; the leaf may encipher keys (a bi-clé).
pub fn status_ext(ocsp: Option<&str>, crl: Option<&str>) -> String {
    let mut ext = String::from("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
    if let Some(url) = ocsp {
        ext.push_str(&format!("authorityInfoAccess=OCSP;URI:{url}\n"));
    }
    if let Some(url) = crl {
        ext.push_str(&format!("crlDistributionPoints=URI:{url}\n"));
    }
    ext
}

impl Pki {
    /// Writes `ca.cnf` and an empty database (`index.txt`) for `openssl ca` in the CA's directory (idempotent).
    fn ca_db(&self) -> &'static str {
        if !self.path("ca.cnf").exists() {
            let cnf = "[ca]\ndefault_ca = CA_default\n[CA_default]\ndatabase = index.txt\ncertificate = ca.pem\n\
                       private_key = ca.key\ndefault_md = sha256\ncrlnumber = crlnumber\ndefault_crl_days = 1\n\
                       new_certs_dir = .\nserial = serial\npolicy = policy_any\n[policy_any]\ncommonName = supplied\n";
            std::fs::write(self.path("ca.cnf"), cnf).expect("ca.cnf");
            std::fs::write(self.path("index.txt"), "").expect("index.txt");
            std::fs::write(self.path("index.txt.attr"), "unique_subject = no\n").expect("index.txt.attr");
            std::fs::write(self.path("crlnumber"), "01\n").expect("crlnumber");
        }
        "ca.cnf"
    }

    /// Records `NAME.pem` as valid in the CA's database (the OCSP responder then answers "good" for it).
    pub fn mark_valid(&self, name: &str) {
        let cnf = self.ca_db();
        openssl(&self.dir, &["ca", "-config", cnf, "-valid", &format!("{name}.pem")]);
    }

    /// Revokes `NAME.pem` in the CA's database with `reason` (`keyCompromise`, `superseded`…).
    pub fn revoke(&self, name: &str, reason: &str) {
        let cnf = self.ca_db();
        openssl(&self.dir, &["ca", "-config", cnf, "-revoke", &format!("{name}.pem"), "-crl_reason", reason]);
    }

    /// Signs the CRL of the database into `out` (DER), valid `hours` hours.
    pub fn gencrl(&self, out: &str, hours: u32) {
        let cnf = self.ca_db();
        let hours = hours.to_string();
        openssl(&self.dir, &["ca", "-config", cnf, "-gencrl", "-crlhours", &hours, "-out", "crl.pem"]);
        openssl(&self.dir, &["crl", "-in", "crl.pem", "-outform", "DER", "-out", out]);
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `openssl ocsp` answering for the CA of `pki` on `port`, signing with `rsigner`/`rkey` (relative to the CA's
/// directory); `extra` adds arguments (`-nmin 1`). Stopped when dropped.
pub struct OcspResponder {
    child: std::process::Child,
}

impl OcspResponder {
    pub fn start(pki: &Pki, port: u16, rsigner: &str, rkey: &str, extra: &[&str]) -> OcspResponder {
        pki.ca_db();
        let port_s = port.to_string();
        let mut args = vec!["ocsp", "-index", "index.txt", "-port", &port_s, "-rsigner", rsigner, "-rkey", rkey];
        args.extend_from_slice(&["-CA", "ca.pem", "-ignore_err"]);
        args.extend_from_slice(extra);
        let mut child = std::process::Command::new("openssl")
            .args(&args)
            .current_dir(&pki.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl ocsp starts");
        // Ready once it says so. A bare connect-and-close probe would wedge OpenSSL 3.0's responder (it then waits
        // forever on that connection), so the port is not probed.
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("waiting for OCSP client connections") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("openssl ocsp is ready");
        OcspResponder { child }
    }
}

impl Drop for OcspResponder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP/1.0 server on 127.0.0.1 serving the files of `dir` (GET only), for CRLs. Stopped when dropped.
pub struct FileServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    pub fn start(dir: &Path, port: u16) -> FileServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind file server");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (dir, flag) = (dir.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut h = String::new();
                while reader.read_line(&mut h).map(|n| n > 2).unwrap_or(false) {
                    h.clear();
                }
                let name = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                let mut stream = reader.into_inner();
                let reply = match std::fs::read(dir.join(&name)) {
                    Ok(body) if !name.contains("..") && !name.is_empty() => {
                        let mut r = format!(
                            "HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    _ => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&reply);
            }
        });
        FileServer { port, stop, thread: Some(thread) }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

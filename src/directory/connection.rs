//! One LDAP connection: anonymous rootDSE read, SASL GSSAPI bind with the
//! integrity layer (RFC 4752), then every message wrapped (a 4-byte length
//! and a gss_wrap token, RFC 4752 3.3 / RFC 4422 3.7), and paged searches.
//! Every wait ends at the connection's deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::ber;
use super::message::{self, Control, Entry, LdapResult, Response, SASL_BIND_IN_PROGRESS, SUCCESS};
use super::{DirectoryError, Login, MAX_MESSAGE, RootDse, Server, filter};
use crate::collect::deadline::read_exact_by;
use crate::collect::msrpc::gssapi::{self, Context, Gss};
use crate::collect::msrpc::kerberos::KerberosError;

/// RFC 4752 3.3: bit 1 of the first byte is "integrity protection".
const LAYER_INTEGRITY: u8 = 0x02;
/// Rounds of SASL bind allowed: Kerberos takes two, the layer one more.
const MAX_BIND_ROUNDS: usize = 6;

enum Framing {
    Plain,
    /// After the bind: every message goes through gss_wrap/gss_unwrap.
    Wrapped(Context<'static>),
}

pub struct Connection {
    stream: TcpStream,
    deadline: Instant,
    next_id: i32,
    framing: Framing,
    /// Decoded (unwrapped) bytes not yet parsed: one SASL frame may hold
    /// several LDAP messages, and one message may span frames.
    pending: Vec<u8>,
    max_entries: usize,
    /// The server name the bind used (ldap/NAME).
    pub host: String,
}

fn gss_error(failure: gssapi::GssFailure) -> DirectoryError {
    DirectoryError::Kerberos(KerberosError::from(failure))
}

fn library() -> Result<&'static Gss, DirectoryError> {
    gssapi::library().map_err(|detail| KerberosError::LibraryMissing { detail }.into())
}

/// The addresses of `host`: `--resolve` first, an address as itself, else DNS.
fn addresses(server: &Server) -> Result<Vec<SocketAddr>, DirectoryError> {
    if let Some((_, ip)) = server
        .resolve
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&server.dc))
    {
        return Ok(vec![SocketAddr::new(*ip, server.port)]);
    }
    let host = server.dc.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, server.port)]);
    }
    (host, server.port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| DirectoryError::Resolve {
            host: host.to_string(),
            detail: e.to_string(),
        })
}

/// The rootDSE of `server`, read anonymously (AD allows it before any bind).
pub fn read_root_dse(server: &Server) -> Result<RootDse, DirectoryError> {
    let mut connection = Connection::open(server)?;
    connection.root_dse()
}

impl Connection {
    /// Connect (no bind yet).
    pub fn open(server: &Server) -> Result<Connection, DirectoryError> {
        let deadline = Instant::now() + server.timeout;
        let mut last = None;
        for addr in addresses(server)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, server.connect_timeout.min(left)) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Connection {
                        stream,
                        deadline,
                        next_id: 1,
                        framing: Framing::Plain,
                        pending: Vec::new(),
                        max_entries: server.max_entries,
                        host: server.dc.clone(),
                    });
                }
                Err(source) => last = Some(DirectoryError::Connect { addr, source }),
            }
        }
        Err(last.unwrap_or(DirectoryError::Timeout {
            during: "connecting",
        }))
    }

    fn id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        id
    }

    fn left(&self, during: &'static str) -> Result<Duration, DirectoryError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DirectoryError::Timeout { during });
        }
        Ok(left)
    }

    fn io(during: &'static str) -> impl Fn(std::io::Error) -> DirectoryError {
        move |source| match source.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                DirectoryError::Timeout { during }
            }
            std::io::ErrorKind::UnexpectedEof => DirectoryError::Closed { during },
            _ => DirectoryError::Io { during, source },
        }
    }

    fn send(&mut self, message: &[u8], during: &'static str) -> Result<(), DirectoryError> {
        let left = self.left(during)?;
        let _ = self.stream.set_write_timeout(Some(left));
        let frame = match &self.framing {
            Framing::Plain => message.to_vec(),
            Framing::Wrapped(context) => {
                let token = context.wrap_integrity(message).map_err(gss_error)?;
                let len = u32::try_from(token.len()).map_err(|_| DirectoryError::TooLarge {
                    size: token.len(),
                    max: MAX_MESSAGE,
                })?;
                let mut frame = len.to_be_bytes().to_vec();
                frame.extend_from_slice(&token);
                frame
            }
        };
        self.stream.write_all(&frame).map_err(Self::io(during))
    }

    fn read_exact(&mut self, buf: &mut [u8], during: &'static str) -> Result<(), DirectoryError> {
        self.left(during)?;
        // A frame of up to 16 MiB: a peer pacing its bytes must not hold
        // the read past the deadline (each recv gets only the time left).
        read_exact_by(&mut self.stream, buf, self.deadline).map_err(Self::io(during))
    }

    /// More decoded bytes into `pending`: raw bytes, or one unwrapped frame.
    fn fill(&mut self, during: &'static str) -> Result<(), DirectoryError> {
        match &self.framing {
            Framing::Plain => {
                let left = self.left(during)?;
                let _ = self.stream.set_read_timeout(Some(left));
                let mut chunk = [0u8; 16 * 1024];
                let n = self.stream.read(&mut chunk).map_err(Self::io(during))?;
                if n == 0 {
                    return Err(DirectoryError::Closed { during });
                }
                self.pending.extend_from_slice(&chunk[..n]);
            }
            Framing::Wrapped(_) => {
                let mut len = [0u8; 4];
                self.read_exact(&mut len, during)?;
                let size = u32::from_be_bytes(len) as usize;
                if size > MAX_MESSAGE {
                    return Err(DirectoryError::TooLarge {
                        size,
                        max: MAX_MESSAGE,
                    });
                }
                let mut token = vec![0u8; size];
                self.read_exact(&mut token, during)?;
                let Framing::Wrapped(context) = &self.framing else {
                    return Err(DirectoryError::Malformed("a wrapped frame"));
                };
                let plain = context.unwrap(&token).map_err(gss_error)?;
                self.pending.extend_from_slice(&plain);
            }
        }
        Ok(())
    }

    /// The next whole LDAP message, decoded.
    fn receive(&mut self, during: &'static str) -> Result<(i32, Response), DirectoryError> {
        loop {
            if let Some((_, head, len)) = ber::header(&self.pending)? {
                let total = head.saturating_add(len);
                if total > MAX_MESSAGE {
                    return Err(DirectoryError::TooLarge {
                        size: total,
                        max: MAX_MESSAGE,
                    });
                }
                if self.pending.len() >= total {
                    let parsed = message::parse(&self.pending[..total]);
                    self.pending.drain(..total);
                    let (id, response) = parsed?;
                    if let Response::Extended(result) = &response
                        && id == 0
                    {
                        return Err(DirectoryError::Disconnected {
                            code: result.code,
                            message: result.message.clone(),
                        });
                    }
                    return Ok((id, response));
                }
            }
            self.fill(during)?;
        }
    }

    /// The rootDSE's naming context and DNS host name.
    pub fn root_dse(&mut self) -> Result<RootDse, DirectoryError> {
        let filter = filter::encode("(objectClass=*)")?;
        let mut dse = RootDse::default();
        let search = message::Search {
            base: "",
            scope: message::Scope::Base,
            filter: &filter,
            attributes: &["defaultNamingContext", "dnsHostName"],
        };
        self.search(&search, &[], |entry| {
            dse.default_naming_context = entry.text("defaultNamingContext");
            dse.dns_host_name = entry.text("dnsHostName");
            Ok(())
        })?;
        Ok(dse)
    }

    /// SASL GSSAPI bind to `ldap@host` with the integrity layer; from then
    /// on every message is wrapped.
    pub fn bind(&mut self, host: &str, login: &Login<'_>) -> Result<(), DirectoryError> {
        let gss = library()?;
        let target = gss.service_name("ldap", host).map_err(gss_error)?;
        let cred = match login {
            Login::Cache => None,
            Login::Password {
                principal,
                password,
            } => {
                let user = gss.user_name(principal).map_err(gss_error)?;
                Some(
                    gss.acquire_with_password(&user, password.as_bytes())
                        .map_err(gss_error)?,
                )
            }
        };
        let mut context = gss.context();
        let first = context
            .step(cred.as_ref(), &target, None)
            .map_err(gss_error)?;
        let mut complete = first.complete;
        let mut token = first.token;
        for _ in 0..MAX_BIND_ROUNDS {
            let id = self.id();
            self.send(&message::sasl_bind(id, "GSSAPI", &token), "binding")?;
            let (got, response) = self.receive("binding")?;
            let Response::Bind {
                result,
                server_credentials,
            } = response
            else {
                return Err(DirectoryError::Malformed("a BindResponse"));
            };
            if got != id {
                return Err(DirectoryError::Malformed("the BindResponse to our request"));
            }
            match result.code {
                SASL_BIND_IN_PROGRESS => {}
                SUCCESS if complete => {
                    // Success without a security layer exchange: the
                    // connection would be unprotected.
                    return Err(DirectoryError::NoIntegrity);
                }
                code => return Err(bind_error(code, result)),
            }
            let input = server_credentials.unwrap_or_default();
            if !complete {
                let step = context
                    .step(cred.as_ref(), &target, Some(&input))
                    .map_err(gss_error)?;
                complete = step.complete;
                token = step.token;
                continue;
            }
            // RFC 4752 3.1: the server's wrapped offer of layers and size.
            let offer = context.unwrap(&input).map_err(gss_error)?;
            let [layers, ..] = offer[..] else {
                return Err(DirectoryError::Malformed("a 4-byte security layer offer"));
            };
            if offer.len() != 4 {
                return Err(DirectoryError::Malformed("a 4-byte security layer offer"));
            }
            if layers & LAYER_INTEGRITY == 0 {
                return Err(DirectoryError::NoIntegrity);
            }
            // Integrity, and the largest frame we take (3 bytes, no authzid).
            let max = (MAX_MESSAGE - 1).min(0x00ff_ffff) as u32;
            let mut answer = [0u8; 4];
            answer.copy_from_slice(&max.to_be_bytes());
            answer[0] = LAYER_INTEGRITY;
            let wrapped = context.wrap_integrity(&answer).map_err(gss_error)?;
            let id = self.id();
            self.send(&message::sasl_bind(id, "GSSAPI", &wrapped), "binding")?;
            let (_, response) = self.receive("binding")?;
            return match response {
                Response::Bind { result, .. } if result.code == SUCCESS => {
                    // Anything already buffered came before the layer: none.
                    self.pending.clear();
                    self.framing = Framing::Wrapped(context);
                    self.host = host.to_string();
                    Ok(())
                }
                Response::Bind { result, .. } => Err(bind_error(result.code, result)),
                _ => Err(DirectoryError::Malformed("a BindResponse")),
            };
        }
        Err(DirectoryError::Malformed("a bind that ends"))
    }

    /// One search, every page (paged results when `page` is Some), each
    /// entry handed to `each`; at most the connection's entry cap.
    pub fn search(
        &mut self,
        search: &message::Search<'_>,
        extra: &[Control],
        mut each: impl FnMut(Entry) -> Result<(), DirectoryError>,
    ) -> Result<usize, DirectoryError> {
        self.search_paged(search, None, extra, &mut each)
    }

    pub fn search_paged(
        &mut self,
        search: &message::Search<'_>,
        page: Option<u32>,
        extra: &[Control],
        each: &mut dyn FnMut(Entry) -> Result<(), DirectoryError>,
    ) -> Result<usize, DirectoryError> {
        let mut cookie = Vec::new();
        let mut count = 0usize;
        loop {
            let id = self.id();
            let mut controls = extra.to_vec();
            if let Some(size) = page {
                controls.push(Control::paged(size, &cookie));
            }
            self.send(&message::search(id, search, &controls), "searching")?;
            let next = loop {
                let (got, response) = self.receive("searching")?;
                if got != id {
                    return Err(DirectoryError::Malformed("a response to our search"));
                }
                match response {
                    Response::Entry(entry) => {
                        count += 1;
                        if count > self.max_entries {
                            return Err(DirectoryError::TooMany {
                                max: self.max_entries,
                            });
                        }
                        each(entry)?;
                    }
                    Response::Reference => {}
                    Response::Done { result, cookie } => {
                        if result.code != SUCCESS {
                            return Err(DirectoryError::Search {
                                base: search.base.to_string(),
                                code: result.code,
                                message: result.message,
                            });
                        }
                        break cookie;
                    }
                    _ => return Err(DirectoryError::Malformed("a search response")),
                }
            };
            match next {
                Some(next) if page.is_some() && !next.is_empty() => cookie = next,
                _ => return Ok(count),
            }
        }
    }

    /// Unbind (best effort: the connection closes either way).
    pub fn unbind(mut self) {
        let id = self.id();
        let _ = self.send(&message::unbind(id), "unbinding");
    }
}

fn bind_error(code: u32, result: LdapResult) -> DirectoryError {
    DirectoryError::Bind {
        code,
        message: result.message,
    }
}

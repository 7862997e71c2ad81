//! What a `sqlite:` URL names: the database file, if any, and the URI SQLite opens, which
//! carries the URL's parameters.

use std::path::PathBuf;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// What a `sqlite:` URL names.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// What SQLite opens: a `file:` URI carrying the URL's parameters, or `:memory:`.
    pub(super) uri: String,
    /// The database file, or `None` for an in-memory database.
    pub(super) file: Option<PathBuf>,
}

impl Target {
    /// Reads `sqlite://PATH[?PARAMS]`, `sqlite:PATH[?PARAMS]` or `sqlite::memory:`. PATH
    /// may percent-encode `?`, `#` and `%`; PARAMS are SQLite's URI parameters (`mode`,
    /// `cache`, `immutable`, `vfs`).
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("sqlite:").ok_or("not a sqlite: URL")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, params) = match rest.split_once('?') {
            Some((path, params)) => (path, Some(params)),
            None => (rest, None),
        };
        let decoded = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| format!("`{path}` is not UTF-8 once its %-escapes are decoded"))?;
        let memory = path.is_empty()
            || path == ":memory:"
            || params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
        if memory {
            return Ok(Target { uri: ":memory:".to_string(), file: None });
        }
        // The path as a `file:` URI: an absolute path after an empty authority; `?`, `#`
        // and `%` encoded, as SQLite decodes them.
        let authority = if decoded.starts_with('/') { "//" } else { "" };
        let mut uri = format!("file:{authority}{}", utf8_percent_encode(&decoded, URI_PATH));
        if let Some(params) = params.filter(|p| !p.is_empty()) {
            uri.push('?');
            uri.push_str(params);
        }
        Ok(Target { uri, file: Some(PathBuf::from(decoded.as_ref())) })
    }
}

/// What a `file:` URI's path must escape for SQLite to read it back.
const URI_PATH: &AsciiSet = &CONTROLS.add(b'?').add(b'#').add(b'%');

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::Target;
    use crate::backend::{Access, Connection};

    #[test]
    fn urls_become_sqlite_uris() {
        let file =
            |uri: &str, path: &str| Target { uri: uri.into(), file: Some(PathBuf::from(path)) };
        let memory = Target { uri: ":memory:".into(), file: None };
        let cases = [
            ("sqlite://wasmig.db", file("file:wasmig.db", "wasmig.db")),
            ("sqlite:data/app.db?mode=rwc", file("file:data/app.db?mode=rwc", "data/app.db")),
            ("sqlite:///p/app.db", file("file:///p/app.db", "/p/app.db")),
            ("sqlite://a%3Fb%25.db", file("file:a%3Fb%25.db", "a?b%.db")),
            ("sqlite::memory:", memory),
            ("sqlite://x.db?mode=memory", Target { uri: ":memory:".into(), file: None }),
        ];
        for (url, target) in cases {
            assert_eq!(Target::parse(url).as_ref(), Ok(&target), "{url}");
        }
        assert!(Target::parse("sqlite://x%ff.db").unwrap_err().contains("not UTF-8"));
    }

    #[tokio::test]
    async fn a_url_opens_the_file_it_names_with_its_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/odd%3Fname%23.db?mode=rwc", dir.path().display());
        let mut conn = Connection::open(&url, Access::ReadWrite).await.unwrap();
        conn.execute("CREATE TABLE t (n)", &[]).await.unwrap();
        assert!(conn.try_lock().await.unwrap());
        conn.close().await;
        assert!(dir.path().join("odd?name#.db").is_file(), "the decoded name, created");
        assert!(dir.path().join("odd?name#.db.lock").is_file());
        // `mode=ro` is SQLite's own: it reads, and refuses to write.
        let read_only = url.replace("mode=rwc", "mode=ro");
        let mut conn = Connection::open(&read_only, Access::ReadWrite).await.unwrap();
        assert!(conn.query("SELECT * FROM t", &[]).await.unwrap().rows.is_empty());
        let error = conn.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap_err();
        assert!(error.message.contains("readonly"), "{}", error.message);
    }
}

//! A browser for tests: it keeps cookies per host (honouring removal by
//! `Max-Age=0`), follows no redirects by itself, and sends `Origin` only when told
//! to, so a test can act as Podium's own page or as another site.

use std::collections::BTreeMap;

use serde_json::Value;

/// Form encoding of one value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One response as a browser sees it.
pub struct Page {
    pub status: u16,
    /// Where a redirect points, made absolute.
    pub location: Option<String>,
    /// The raw `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Cookies by host, then by name.
pub struct Browser {
    client: reqwest::Client,
    jar: BTreeMap<String, BTreeMap<String, String>>,
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: BTreeMap::new(),
        }
    }

    /// The cookie `name` held for the host of `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&host_of(url))?.get(name).cloned()
    }

    /// The cookie `name` held for any host.
    pub fn cookie_anywhere(&self, name: &str) -> Option<String> {
        self.jar
            .values()
            .find_map(|cookies| cookies.get(name).cloned())
    }

    /// Sets a cookie for the host of `url`, as another site or a script could.
    pub fn plant(&mut self, url: &str, name: &str, value: &str) {
        self.jar
            .entry(host_of(url))
            .or_default()
            .insert(name.into(), value.into());
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.send(reqwest::Method::GET, url, None, &[]).await
    }

    /// Posts a form, with `origin` as its `Origin` header if given.
    pub async fn post_form(
        &mut self,
        url: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        )];
        if let Some(origin) = origin {
            headers.push(("origin", origin.to_string()));
        }
        self.send(reqwest::Method::POST, url, Some(body), &headers)
            .await
    }

    /// Any request, with extra headers.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
        headers: &[(&str, String)],
    ) -> Page {
        let host = host_of(url);
        let mut request = self.client.request(method, url);
        if let Some(cookies) = self.jar.get(&host).filter(|c| !c.is_empty()) {
            let line = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", line);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        for line in &set_cookies {
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            let removed = attributes
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            let cookies = self.jar.entry(host.clone()).or_default();
            if removed {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().into(), value.trim().into());
            }
        }
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| absolute(url, l));
        Page {
            status,
            location,
            set_cookies,
            headers,
            text: response.text().await.unwrap_or_default(),
        }
    }
}

/// `location` made absolute against `base`.
fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}{location}", &base[..root_end])
}

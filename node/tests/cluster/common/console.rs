//! A console user without a browser: an HTTP client that keeps its cookies, trusts the
//! cluster's CA, follows no redirects (tests look at each answer), and reads the hidden
//! form fields pages carry.

use std::collections::BTreeMap;

use warden_local_cluster::LocalCluster;

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden input named `name`.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in the page:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("a closing quote") + start;
        self.body[start..end].to_owned()
    }

    /// The text between `marker` and the next double quote.
    pub fn field_after(&self, marker: &str) -> String {
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in the page:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("a closing quote") + start;
        self.body[start..end].replace("&amp;", "&")
    }

    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect()
    }
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A user of node `id`'s console.
    pub fn new(cluster: &LocalCluster, id: u64) -> Browser {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = cluster.ca_path() {
            let pem = std::fs::read(&ca).expect("read the cluster CA");
            builder =
                builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"));
        }
        Browser {
            http: builder.build().expect("http client"),
            base: console_url(cluster, id),
            cookies: BTreeMap::new(),
        }
    }

    /// The same user (cookies) on node `id`'s console.
    pub fn on_node(&self, cluster: &LocalCluster, id: u64) -> Browser {
        Browser {
            http: self.http.clone(),
            base: console_url(cluster, id),
            cookies: self.cookies.clone(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// A GET whose body is read as it comes (server-sent events).
    pub async fn stream(&self, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        request = request.header("cookie", self.cookie_header());
        let response = request.send().await.expect("console request");
        assert_eq!(response.status().as_u16(), 200, "streaming {path}");
        response
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// A POST carrying `headers` too (as another site's page would send them).
    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Signs in with `token`; the answer to the sign-in POST.
    pub async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let nonce = form.field("nonce");
        self.post("/console/sign-in", &[("token", token), ("nonce", &nonce)])
            .await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        let response = request.send().await.expect("console request");
        let page = Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::new(),
        };
        for line in page.set_cookies() {
            let pair = line.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                match value.is_empty() {
                    true => self.cookies.remove(name),
                    false => self.cookies.insert(name.to_owned(), value.to_owned()),
                };
            }
        }
        Page {
            body: response.text().await.expect("console body"),
            ..page
        }
    }
}

/// `https://ADDRESS` of node `id`'s console (`http://` on an insecure cluster).
pub fn console_url(cluster: &LocalCluster, id: u64) -> String {
    let address = cluster
        .ready(id)
        .expect("a running node")
        .console
        .clone()
        .expect("the node serves the console (console.listen)");
    match cluster.ca_path() {
        Some(_) => format!("https://{address}"),
        None => format!("http://{address}"),
    }
}

/// The settings that turn the console on, on a free port.
pub const CONSOLE_ON: (&str, &str) = ("console.listen", "\"127.0.0.1:0\"");

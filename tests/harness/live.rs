//! A live-socket client, as a browser holds one.

use crate::*;
use serde_json::Value;

/// A live-socket client, as a browser would hold one.
pub struct Live {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl TestApp {
    /// Open `/api/sessions/{session}/live?after=…`; Err is the HTTP status of a refused upgrade.
    pub async fn live_socket(&self, token: &str, session: &str, after: u64) -> Result<Live, u16> {
        self.live_socket_buffered(token, session, after, None).await
    }

    /// A live socket whose receive buffer is `bytes` (the kernel doubles it): one that stops reading
    /// fills it, and then the server's send buffer, after a few dozen kilobytes.
    pub async fn live_socket_buffered(
        &self,
        token: &str,
        session: &str,
        after: u64,
        bytes: Option<u32>,
    ) -> Result<Live, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/api/sessions/{session}/live?after={after}", self.addr);
        let mut req = url.into_client_request().expect("ws request");
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
        let socket = tokio::net::TcpSocket::new_v4().expect("tcp socket");
        if let Some(b) = bytes {
            socket.set_recv_buffer_size(b).expect("receive buffer");
        }
        let tcp = socket.connect(self.addr).await.expect("connect");
        let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        match tokio_tungstenite::client_async(req, tcp).await {
            Ok((ws, _)) => Ok(Live { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("websocket: {e}"),
        }
    }
}

impl Live {
    /// The next server message (skipping pings), or `None` after `secs` of silence.
    pub async fn next_within(&mut self, secs: u64) -> Option<Value> {
        use futures::StreamExt;
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(secs), self.ws.next()).await.ok()??.ok()?;
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("json message");
                if v["kind"] != "ping" {
                    return Some(v);
                }
            }
        }
    }

    /// Read events until `n` have arrived (skipping `ready`), failing after 10 s of silence.
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            let v = self.next_within(10).await.unwrap_or_else(|| panic!("only {} of {n} events arrived", out.len()));
            if v["kind"] == "event" {
                out.push(v["event"].clone());
            }
        }
        out
    }

    pub async fn send(&mut self, v: Value) {
        use futures::SinkExt;
        self.ws.send(tokio_tungstenite::tungstenite::Message::Text(v.to_string().into())).await.expect("send");
    }

    /// Wait up to `secs` for the server to close the socket; its close code (1005 when none).
    pub async fn closed_within(&mut self, secs: u64) -> Option<u16> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(1006),
                Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005)),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

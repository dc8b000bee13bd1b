//! A full blob disk (issue 27, "Faults"): the blob store on a 1 MiB tmpfs the test
//! mounts; an upload that does not fit, small (written whole) or large (streamed to a
//! staging file), fails with 507 and a clear message, leaves no file behind and puts
//! nothing on the ledger; `/metrics`' counter aside, the server goes on, and once there
//! is room again the same upload succeeds.

use crate::common;

use common::app::TestApp;
use common::records::{cast, pdf, upload};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` over `dir`, unmounted when dropped (even when the test fails).
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(dir: &Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self(dir.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_blob_disk_fails_the_upload_cleanly_and_keeps_nothing() {
    let mut app = TestApp::start().await;
    let c = cast(&app).await;
    // The store's directory becomes a 1 MiB file system; the server opens it anew.
    let full = Mounted::tmpfs(app.blobs.path(), "1m");
    app.restart().await;
    let token = &c.patient.token;
    let events = app.count_all_events().await;

    for (name, size) in [("small.pdf", 2 << 20), ("large.pdf", 6 << 20)] {
        let (status, body) = upload(&app, token, "Scan", name, pdf(name, size)).await;
        assert_eq!(status, 507, "{name}: {body}");
        assert_eq!(body["error"]["code"], "INTERNAL", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("full") && message.contains("nothing was kept"),
            "{message}"
        );
        let left = common::records::files_under(app.blobs.path());
        assert!(left.is_empty(), "{name} left {left:?}");
        assert_eq!(
            app.count_all_events().await,
            events,
            "{name} reached the ledger"
        );
    }

    // Room again: the same upload is stored.
    drop(full);
    app.restart().await;
    let (status, body) = upload(&app, token, "Scan", "large.pdf", pdf("large.pdf", 6 << 20)).await;
    assert_eq!(status, 201, "{body}");
}

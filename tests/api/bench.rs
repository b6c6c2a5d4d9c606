//! `ea-crm bench chat` runs end to end on a small load, against the hub and
//! against the bare broadcast baseline.

use ea_crm::bench::{self, ChatBench};
use ea_crm::config::Config;

#[tokio::test]
async fn the_chat_bench_delivers_every_message_to_every_client_of_its_room() {
    let load = ChatBench {
        clients: 4,
        rooms: 2,
        messages: 3,
        rate: 0.0,
    };
    let report = bench::chat(Config::for_tests(), load)
        .await
        .expect("bench runs");
    assert_eq!(report.sent, 12);
    assert_eq!(
        report.delivered, 24,
        "each message reaches the two clients of its room"
    );
    assert!(report.to_string().contains("msg/s"));

    let bare = bench::chat::baseline(load).await.expect("baseline runs");
    assert_eq!((bare.sent, bare.delivered), (12, 24));
}

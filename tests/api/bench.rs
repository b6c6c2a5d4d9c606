//! `ea-crm bench chat` runs end to end on a small load.

use ea_crm::bench::{self, ChatBench};
use ea_crm::config::Config;

#[tokio::test]
async fn the_chat_bench_delivers_every_message_to_every_client() {
    let report = bench::chat(
        Config::for_tests(),
        ChatBench {
            clients: 3,
            messages: 4,
        },
    )
    .await
    .expect("bench runs");
    assert_eq!(report.sent, 12);
    assert_eq!(
        report.delivered, 36,
        "each message reaches all three clients"
    );
    assert!(report.to_string().contains("msg/s"));
}

//! Browser tests: the real app on a random port, driven through real
//! headless Chromium by WebDriver.
//!
//! They run under their own harness (libtest-mimic) so that a machine
//! without Chromium reports them as *ignored* in the summary, with a note
//! saying why, instead of passing them silently; under CI (`CI` set) a
//! missing browser fails every one of them, as the scale-out tests do for a
//! missing SurrealDB server. `.ci/run` installs Chromium. The same goes for
//! the accessibility test (`a11y`) and axe-core, which `.ci/run` installs
//! from npm.

mod a11y;
mod admin_profile;
mod chat_hub;
mod features;
mod harness;
mod imports;
mod leads;
mod maintenance;
mod panel;
mod panel_gaps;
mod second_factor;
mod tasks;
mod xss;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

type BrowserTest = fn() -> Pin<Box<dyn Future<Output = ()>>>;

/// Every browser test, by module and name: a test not listed here never runs.
macro_rules! browser_tests {
    ($($module:ident :: $test:ident),* $(,)?) => {
        [$((
            concat!(stringify!($module), "::", stringify!($test)),
            (|| Box::pin($module::$test())) as BrowserTest,
        )),*]
    };
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let tests = browser_tests![
        panel_gaps::a_webhook_test_delivery_shows_in_its_log_and_its_secret_rotates,
        panel_gaps::the_after_third_follow_up_setting_saves_and_reloads,
        panel_gaps::the_marketing_dashboard_shows_time_to_first_contact_and_responses,
        panel_gaps::the_fit_model_is_trained_from_the_ai_page,
        admin_profile::a_custom_role_is_created_and_given_to_a_user_who_then_sees_what_it_grants,
        admin_profile::a_user_is_deactivated_reactivated_and_given_a_new_password,
        admin_profile::changing_your_timezone_moves_what_is_due_today,
        admin_profile::a_lead_timeline_reads_as_sentences_with_names,
        admin_profile::the_audit_log_is_filtered_by_a_person_picked_by_name_and_exported_as_csv,
        admin_profile::sign_out_everywhere_else_ends_the_other_sessions_and_keeps_this_one,
        panel::a_user_logs_in_creates_a_lead_finds_it_and_logs_a_follow_up,
        panel::the_new_lead_form_names_a_possible_duplicate_while_typing_and_creates_it_only_when_told,
        panel::a_rep_adds_edits_and_deletes_a_note_and_cannot_change_the_admins,
        panel::an_import_with_one_bad_row_shows_the_report,
        panel::two_people_chat_and_a_mention_raises_the_others_badge,
        panel::removing_a_permission_takes_away_the_page_and_the_api_call,
        panel::selected_leads_are_bulk_assigned_and_the_new_owner_shows_in_the_table_and_the_api,
        panel::a_leads_relationship_map_shows_its_neighbour_and_a_draft_can_be_edited,
        panel::an_admin_sees_the_bots_bridges_a_room_and_creates_a_link_code,
        panel::duplicates_are_merged_after_a_confirmation_patterns_show_and_an_ai_feature_is_switched_off,
        panel::the_new_pages_work_at_phone_width_in_the_dark_scheme,
        leads::a_lead_is_created_with_two_contacts_through_the_pickers_and_edited_in_place,
        leads::an_edit_of_a_lead_someone_else_changed_meanwhile_is_refused_with_a_reload,
        leads::a_bookmarked_leads_view_opens_with_its_filters_and_the_filters_follow_the_address,
        leads::the_caller_logs_a_call_from_the_queue_in_one_click,
        chat_hub::scrolling_to_the_top_loads_older_pages_back_to_the_first_of_200_messages,
        chat_hub::a_member_edits_replies_reacts_and_deletes_in_the_room,
        chat_hub::opening_a_direct_message_names_it_after_the_other_person,
        chat_hub::search_finds_messages_across_rooms_and_opens_the_one_picked,
        chat_hub::the_unread_count_follows_the_user_to_a_second_browser_session,
        chat_hub::a_shared_image_shows_its_thumbnail_and_another_file_its_name,
        chat_hub::a_private_group_is_made_with_its_people_who_are_then_added_and_removed,
        chat_hub::a_message_is_pinned_and_unpinned_and_a_reminder_set_on_it_is_cancelled,
        features::an_admin_switches_the_chat_off_and_it_leaves_a_users_menu,
        maintenance::an_admin_closes_the_panel_and_a_signed_in_user_sees_why,
        second_factor::a_role_requiring_two_factor_sends_its_holder_to_set_it_up_then_asks_for_codes,
        tasks::a_production_manager_moves_a_task_to_done_and_the_dashboard_counts_it,
        tasks::a_task_page_edits_fields_checklist_time_and_shows_comments_live,
        xss::hostile_text_renders_as_text_on_every_page,
        imports::the_older_of_two_imports_is_undone_from_the_list_of_past_imports,
        admin_profile::a_user_manager_is_offered_only_the_extra_permissions_they_hold,
        a11y::every_page_passes_the_accessibility_checks_in_both_schemes,
    ];

    let missing = harness::missing_browser();
    let under_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    if let Some(what) = &missing {
        if under_ci {
            eprintln!(
                "browser tests cannot run under CI: {what} is not installed (.ci/run installs it)"
            );
        } else {
            eprintln!("browser tests ignored: {what} is not installed; .ci/run installs it");
        }
    }

    // The accessibility test also needs axe-core (installed by .ci/run).
    let missing_axe = harness::axe_script_path()
        .is_none()
        .then(|| String::from("axe-core (axe.min.js; or set EA_CRM_AXE_JS)"));
    if let (None, Some(what)) = (&missing, &missing_axe) {
        if under_ci {
            eprintln!("the accessibility test cannot run under CI: {what} is not installed (.ci/run installs it)");
        } else {
            eprintln!(
                "the accessibility test is ignored: {what} is not installed; .ci/run installs it"
            );
        }
    }

    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let missing = match &missing {
                Some(what) => Some(what.clone()),
                None if name.starts_with("a11y::") => missing_axe.clone(),
                None => None,
            };
            let ignored = missing.is_some() && !under_ci;
            Trial::test(name, move || match missing {
                Some(what) => Err(Failed::from(format!(
                    "{what} is not installed; .ci/run installs it"
                ))),
                None => run(test),
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// One test on its own single-threaded runtime, as `#[tokio::test]` would.
fn run(test: BrowserTest) -> Result<(), Failed> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("tokio runtime: {e}")))?
        .block_on(test());
    Ok(())
}

//! The admission rules of the seeds, one decision at a time.

use super::{
    decide, password_due, Compared, Credential, Decision, Grant, Lookup, PasswordCheck,
    PublicReason, Reason, StoredDevice, Verdict, NOT_ALLOWED,
};
use crate::admission::request::AdmissionRequest;
use crate::domain::Platform;
use crate::records::{DeviceStatus, PasswordChecks};

const HASH: &str = "hash-of-right";

fn request(json: &str) -> AdmissionRequest {
    AdmissionRequest::from_json(json.as_bytes()).unwrap()
}

fn device(platform: Platform, password: bool, status: DeviceStatus) -> StoredDevice {
    StoredDevice {
        status,
        platform,
        groups: vec!["Sales".into()],
        password_hash: password.then(|| HASH.to_owned()),
        checks: PasswordChecks::default(),
        expires: None,
    }
}

const NOW: u64 = 1_800_000_000;

/// Checks counted since the last clearing, the last of them at `at`.
fn counted(n: u64, at: u64) -> PasswordChecks {
    PasswordChecks {
        claimed: n,
        cleared: 0,
        last_at: at,
    }
}

/// The decision for a request against an optional device, with the setting on
/// or off, as admission makes it: the password is compared where
/// [`password_due`] says (the claim always taken), and only "right" matches [`HASH`].
fn check(json: &str, device: Option<StoredDevice>, pre_approved_only: bool) -> Decision {
    let lookup = Lookup {
        pre_approved_only,
        device,
    };
    let req = request(json);
    let compared = match (password_due(&req, &lookup, NOW), &req.password) {
        (Some(due), Some(p)) if due.hash == HASH && p == "right" => Compared::Right,
        (Some(_), _) => Compared::Wrong,
        (None, _) => Compared::NotDue,
    };
    decide(&req, &lookup, Credential::Password(compared), NOW)
}

fn ios(password: bool) -> Option<StoredDevice> {
    Some(device(Platform::Ios, password, DeviceStatus::PreApproved))
}

fn assert_deny(d: &Decision, reason: Reason) {
    assert_eq!(
        (d.decision, d.reason, d.pre_approved, &d.groups),
        (Verdict::Deny, reason, false, &None),
        "{d:?}"
    );
    let answer = d.answer(None);
    assert!(answer.detail.is_some(), "a deny says why: {d:?}");
    if answer.reason == PublicReason::NotAllowed {
        assert_eq!(
            answer.detail,
            Some(NOT_ALLOWED),
            "one text for every such refusal"
        );
    }
}

fn assert_open(d: &Decision) {
    assert_eq!(
        (d.decision, d.reason, d.pre_approved, &d.groups),
        (Verdict::Allow, Reason::OpenEnrollment, false, &None),
        "{d:?}"
    );
}

fn assert_pre_approved(d: &Decision) {
    assert_eq!(
        (d.decision, d.reason, d.pre_approved),
        (Verdict::Allow, Reason::PreApproved, true),
        "{d:?}"
    );
    assert_eq!(d.groups.as_deref(), Some(&["Sales".to_owned()][..]));
}

const IOS: &str = r#"{"serial_number":"ABC123","platform":"ios"}"#;
const IOS_RIGHT: &str = r#"{"serial_number":"ABC123","platform":"ios","password":"right"}"#;
const IOS_WRONG: &str = r#"{"serial_number":"ABC123","platform":"ios","password":"Right"}"#;
const MAC: &str = r#"{"serial_number":"ABC123","platform":"macos"}"#;

#[test]
fn restricted_allows_only_a_matching_pre_approved_device() {
    assert_pre_approved(&check(IOS, ios(false), true));
    assert_pre_approved(&check(IOS_RIGHT, ios(true), true));
    // A password presented for a device imported without one does not matter.
    assert_pre_approved(&check(IOS_WRONG, ios(false), true));
    assert_deny(&check(IOS, None, true), Reason::NotPreApproved);
    assert_deny(&check(MAC, ios(false), true), Reason::PlatformMismatch);
    assert_deny(&check(IOS, ios(true), true), Reason::PasswordRequired);
    assert_deny(&check(IOS_WRONG, ios(true), true), Reason::PasswordMismatch);
}

#[test]
fn open_enrollment_allows_any_supported_platform() {
    for platform in ["android", "ios", "macos", "tvos", "linux"] {
        let json = format!(r#"{{"serial_number":"NEW1","platform":"{platform}"}}"#);
        assert_open(&check(&json, None, false));
    }
    // A matching pre-approved serial still gets its groups.
    assert_pre_approved(&check(IOS_RIGHT, ios(true), false));
    // A pre-approval that does not match enrolls openly, without its groups.
    assert_open(&check(MAC, ios(false), false));
    assert_open(&check(IOS, ios(true), false));
    assert_open(&check(IOS_WRONG, ios(true), false));
}

#[test]
fn windows_is_never_supported() {
    let json = r#"{"serial_number":"ABC123","platform":"windows"}"#;
    let windows = Some(device(Platform::Ios, false, DeviceStatus::PreApproved));
    for on in [false, true] {
        assert_deny(&check(json, None, on), Reason::UnsupportedPlatform);
        assert_deny(
            &check(json, windows.clone(), on),
            Reason::UnsupportedPlatform,
        );
    }
}

#[test]
fn enrolled_devices_cannot_enroll_again() {
    let enrolled = Some(device(Platform::Ios, true, DeviceStatus::Enrolled));
    for on in [false, true] {
        assert_deny(
            &check(IOS_RIGHT, enrolled.clone(), on),
            Reason::AlreadyEnrolled,
        );
    }
}

fn android(method: &str, version: Option<&str>) -> String {
    let version = version.map_or(String::new(), |v| format!(r#","os_version":"{v}""#));
    format!(
        r#"{{"serial_number":"ABC123","platform":"android","enrollment_method":"{method}"{version}}}"#
    )
}

#[test]
fn android_limitations_of_the_seeds() {
    let pre = || Some(device(Platform::Android, false, DeviceStatus::PreApproved));
    for method in ["email", "sms", "self", "qr"] {
        for version in ["10", "14.1"] {
            let d = check(&android(method, Some(version)), pre(), true);
            assert_deny(&d, Reason::UnsupportedEnrollmentMethod);
            assert!(d.detail.unwrap().contains("Android 10"), "{d:?}");
        }
        // Before Android 10 the generic methods could be pre-approved.
        assert_pre_approved(&check(&android(method, Some("9")), pre(), true));
        // No version given: treated as current Android, so refused.
        assert_deny(
            &check(&android(method, None), pre(), true),
            Reason::UnsupportedEnrollmentMethod,
        );
    }
    let d = check(
        &android("android_enterprise_profile_owner", Some("12")),
        pre(),
        true,
    );
    assert_deny(&d, Reason::UnsupportedEnrollmentMethod);
    assert!(d.detail.unwrap().contains("profile owner"), "{d:?}");
    assert_pre_approved(&check(
        &android("android_enterprise_profile_owner", Some("11")),
        pre(),
        true,
    ));
    for method in ["zero_touch", "android_enterprise_device_owner", "ade"] {
        assert_pre_approved(&check(&android(method, Some("14")), pre(), true));
    }
    // The limitation is Android's: iOS enrolling by email is fine.
    let ios_email = r#"{"serial_number":"ABC123","platform":"ios","enrollment_method":"email","os_version":"17"}"#;
    assert_pre_approved(&check(ios_email, ios(false), true));
    // Refused before the lookup matters: unknown serials get the same answer.
    assert_deny(
        &check(&android("qr", Some("13")), None, true),
        Reason::UnsupportedEnrollmentMethod,
    );
}

#[test]
fn limitations_with_open_enrollment_drop_the_pre_approval_only() {
    let pre = Some(device(Platform::Android, false, DeviceStatus::PreApproved));
    let d = check(&android("email", Some("13")), pre, false);
    assert_open(&d);
    assert_eq!(
        d.detail, None,
        "an open enrollment says nothing of a pre-approval"
    );
}

#[test]
fn passwords_are_judged_for_the_attempt_limit() {
    assert_eq!(
        check(IOS_RIGHT, ios(true), true).password,
        PasswordCheck::Right
    );
    assert_eq!(
        check(IOS_WRONG, ios(true), true).password,
        PasswordCheck::Wrong
    );
    let missing = check(IOS, ios(true), true);
    assert_deny(&missing, Reason::PasswordRequired);
    assert_eq!(
        missing.password,
        PasswordCheck::NotChecked,
        "nothing presented, nothing compared, nothing counted"
    );
    assert_eq!(
        check(IOS_WRONG, ios(true), false).password,
        PasswordCheck::Wrong,
        "also when enrollment is open"
    );
    assert_eq!(
        check(IOS_WRONG, ios(false), true).password,
        PasswordCheck::NotChecked
    );
    assert_eq!(
        check(MAC, ios(true), true).password,
        PasswordCheck::NotChecked
    );
}

/// Issue 26, item 2: a password is compared (and so counted) only where its
/// result decides something: a pre-approval that applies but for its
/// password, with a password presented.
#[test]
fn a_password_is_due_only_where_it_decides() {
    let due = |json: &str, device: Option<StoredDevice>, on: bool| {
        let lookup = Lookup {
            pre_approved_only: on,
            device,
        };
        password_due(&request(json), &lookup, NOW).map(|d| (d.hash.to_owned(), d.claim.from))
    };
    let mut locked = device(Platform::Ios, true, DeviceStatus::PreApproved);
    locked.checks = counted(5, NOW - 60);
    let mut lapsed = device(Platform::Ios, true, DeviceStatus::PreApproved);
    lapsed.expires = Some(crate::domain::Expiry::from_epoch(NOW));
    let enrolled = device(Platform::Ios, true, DeviceStatus::Enrolled);
    let android = || Some(device(Platform::Android, true, DeviceStatus::PreApproved));
    let android_qr = r#"{"serial_number":"ABC123","platform":"android","enrollment_method":"qr","os_version":"13","password":"right"}"#;
    let mac_right = r#"{"serial_number":"ABC123","platform":"macos","password":"right"}"#;
    for on in [true, false] {
        assert_eq!(due(IOS_WRONG, ios(true), on), Some((HASH.to_owned(), 0)));
        assert_eq!(due(IOS_RIGHT, ios(true), on), Some((HASH.to_owned(), 0)));
        for (json, device) in [
            (IOS, ios(true)),
            (IOS_RIGHT, ios(false)),
            (IOS_RIGHT, None),
            (mac_right, ios(true)),
            (IOS_RIGHT, Some(locked.clone())),
            (IOS_RIGHT, Some(lapsed.clone())),
            (IOS_RIGHT, Some(enrolled.clone())),
            (android_qr, android()),
        ] {
            assert_eq!(
                due(json, device.clone(), on),
                None,
                "{json} {device:?} on={on}"
            );
        }
    }
    // After a lock, the next window.
    let mut after = device(Platform::Ios, true, DeviceStatus::PreApproved);
    after.checks = counted(5, NOW - 15 * 60);
    assert_eq!(
        due(IOS_WRONG, Some(after), true),
        Some((HASH.to_owned(), 5))
    );
}

/// Where no comparison is due its result cannot matter; where one is, it decides.
#[test]
fn password_due_and_the_decision_agree() {
    let bodies = [
        IOS,
        IOS_RIGHT,
        IOS_WRONG,
        MAC,
        r#"{"serial_number":"ABC123","platform":"android","password":"right","enrollment_method":"qr","os_version":"13"}"#,
        r#"{"serial_number":"ABC123","platform":"android","password":"right","enrollment_method":"zero_touch"}"#,
        r#"{"serial_number":"ABC123","platform":"windows","password":"right"}"#,
    ];
    let mut devices = vec![None];
    for platform in [Platform::Ios, Platform::Android] {
        for password in [false, true] {
            for status in DeviceStatus::ALL {
                for checks in [
                    counted(0, 0),
                    counted(4, NOW),
                    counted(5, NOW - 60),
                    counted(5, NOW - 900),
                ] {
                    let mut d = device(platform, password, status);
                    d.checks = checks;
                    devices.push(Some(d));
                }
            }
        }
    }
    let mut due = 0;
    for on in [true, false] {
        for json in bodies {
            for device in &devices {
                let lookup = Lookup {
                    pre_approved_only: on,
                    device: device.clone(),
                };
                let req = request(json);
                let with = |c| decide(&req, &lookup, Credential::Password(c), NOW);
                let case = format!("{json} {device:?} on={on}");
                if password_due(&req, &lookup, NOW).is_some() {
                    due += 1;
                    assert_pre_approved(&with(Compared::Right));
                    assert!(!with(Compared::Wrong).pre_approved, "{case}");
                    assert_eq!(
                        with(Compared::Refused).answer(None),
                        with(Compared::Wrong).answer(None),
                        "{case}"
                    );
                } else {
                    assert_eq!(with(Compared::Right), with(Compared::NotDue), "{case}");
                    assert_eq!(with(Compared::Wrong), with(Compared::NotDue), "{case}");
                }
            }
        }
    }
    assert!(due > 0);
}

/// A check the limit refused (the window filled since the read) is refused
/// as a lock is: unchecked, the same answer as any other refusal.
#[test]
fn a_refused_check_is_a_lock() {
    let lookup = Lookup {
        pre_approved_only: true,
        device: ios(true),
    };
    let refused = Credential::Password(Compared::Refused);
    let d = decide(&request(IOS_RIGHT), &lookup, refused, NOW);
    assert_deny(&d, Reason::Locked);
    assert_eq!(d.password, PasswordCheck::NotChecked);
    let open = Lookup {
        pre_approved_only: false,
        ..lookup
    };
    assert_open(&decide(&request(IOS_RIGHT), &open, refused, NOW));
}

#[test]
fn a_locked_serial_is_refused_even_with_the_right_password() {
    let mut locked = device(Platform::Ios, true, DeviceStatus::PreApproved);
    locked.checks = counted(5, NOW - 60);
    let d = check(IOS_RIGHT, Some(locked.clone()), true);
    assert_deny(&d, Reason::Locked);
    assert_eq!(
        d.password,
        PasswordCheck::NotChecked,
        "not even checked while locked"
    );
    assert_open(&check(IOS_RIGHT, Some(locked.clone()), false));
    locked.checks = counted(5, NOW - 15 * 60);
    assert_pre_approved(&check(IOS_RIGHT, Some(locked), true));
}

#[test]
fn a_lapsed_pre_approval_is_refused_to_the_second_as_any_other_refusal() {
    let mut lapsing = device(Platform::Ios, true, DeviceStatus::PreApproved);
    lapsing.expires = Some(crate::domain::Expiry::from_epoch(NOW + 1));
    assert_pre_approved(&check(IOS_RIGHT, Some(lapsing.clone()), true));
    lapsing.expires = Some(crate::domain::Expiry::from_epoch(NOW));
    let d = check(IOS_RIGHT, Some(lapsing.clone()), true);
    assert_deny(&d, Reason::Expired);
    assert_eq!(
        d.password,
        PasswordCheck::NotChecked,
        "a guess teaches nothing"
    );
    assert_eq!(d.answer(None).reason, PublicReason::NotAllowed);
    // Marked by the sweep: the same, whatever the stored time says.
    let mut marked = device(Platform::Ios, false, DeviceStatus::Expired);
    marked.expires = Some(crate::domain::Expiry::from_epoch(NOW - 3600));
    assert_deny(&check(IOS, Some(marked.clone()), true), Reason::Expired);
    // Without the restriction, the device enrolls openly (its groups do not apply).
    assert_open(&check(IOS_RIGHT, Some(marked), false));
    // An enrolled device never expires: it is refused as enrolled, not as expired.
    let mut enrolled = device(Platform::Ios, false, DeviceStatus::Enrolled);
    enrolled.expires = Some(crate::domain::Expiry::from_epoch(NOW - 1));
    assert_deny(&check(IOS, Some(enrolled), true), Reason::AlreadyEnrolled);
}

#[test]
fn a_token_stands_for_the_password_it_was_issued_for() {
    let lookup = Lookup {
        pre_approved_only: true,
        device: ios(true),
    };
    let pre = || Credential::Token(Grant::PreApproved);
    let d = decide(&request(IOS), &lookup, pre(), NOW);
    assert_pre_approved(&d);
    let mac = decide(&request(MAC), &lookup, pre(), NOW);
    assert_deny(&mac, Reason::PlatformMismatch);
}

/// The decision of a completion with a token that granted `grant`.
fn complete(
    json: &str,
    device: Option<StoredDevice>,
    pre_approved_only: bool,
    grant: Grant,
) -> Decision {
    let lookup = Lookup {
        pre_approved_only,
        device,
    };
    decide(&request(json), &lookup, Credential::Token(grant), NOW)
}

#[test]
fn a_token_grants_exactly_what_its_admission_granted() {
    use Grant::{OpenEnrollment as Open, PreApproved as Pre};
    // Open: never the pre-approval, whatever the record says now.
    for device in [ios(true), ios(false), None] {
        let d = complete(IOS, device.clone(), false, Open);
        assert_open(&d);
        assert_eq!(d.password, PasswordCheck::NotChecked, "not a guess");
    }
    // ... and only while the restriction is off: on, it is judged as a request
    // without a password, and a pre-approval it did not grant is refused too.
    let d = complete(IOS, ios(true), true, Open);
    assert_deny(&d, Reason::PasswordRequired);
    assert_eq!(d.password, PasswordCheck::NotChecked, "not counted");
    assert_deny(&complete(IOS, None, true, Open), Reason::NotPreApproved);
    assert_deny(
        &complete(IOS, ios(false), true, Open),
        Reason::NotPreApproved,
    );
    assert_deny(
        &complete(MAC, ios(false), true, Open),
        Reason::PlatformMismatch,
    );
    // Pre-approved: whatever the setting, as pre-approved or refused with the
    // reason it no longer applies, never downgraded to an open enrollment.
    for on in [true, false] {
        assert_pre_approved(&complete(IOS, ios(true), on, Pre));
        let mut locked = device(Platform::Ios, true, DeviceStatus::PreApproved);
        locked.checks = counted(5, NOW - 60);
        assert_deny(&complete(IOS, Some(locked), on, Pre), Reason::Locked);
        let mut lapsed = device(Platform::Ios, true, DeviceStatus::PreApproved);
        lapsed.expires = Some(crate::domain::Expiry::from_epoch(NOW));
        assert_deny(&complete(IOS, Some(lapsed), on, Pre), Reason::Expired);
        let pre = || Some(device(Platform::Android, false, DeviceStatus::PreApproved));
        assert_deny(
            &complete(&android("qr", Some("13")), pre(), on, Pre),
            Reason::UnsupportedEnrollmentMethod,
        );
    }
    // Enrolled is enrolled, whatever the token.
    let enrolled = || Some(device(Platform::Ios, true, DeviceStatus::Enrolled));
    for (on, grant) in [(false, Open), (true, Open), (false, Pre), (true, Pre)] {
        assert_deny(
            &complete(IOS, enrolled(), on, grant),
            Reason::AlreadyEnrolled,
        );
    }
}

#[test]
fn an_allow_says_what_it_grants() {
    assert_eq!(
        check(IOS_RIGHT, ios(true), false).grant(),
        Some(Grant::PreApproved)
    );
    assert_eq!(
        check(IOS_WRONG, ios(true), false).grant(),
        Some(Grant::OpenEnrollment)
    );
    assert_eq!(check(IOS_WRONG, ios(true), true).grant(), None);
}

#[test]
fn answers_never_carry_user_data() {
    let d = check(IOS_RIGHT, ios(true), true);
    let json = serde_json::to_value(d.answer(Some("et1.token".into()))).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "decision",
            "enrollment_token",
            "groups",
            "pre_approved",
            "reason"
        ]
    );
    assert_eq!(json["decision"], "allow");
    assert_eq!(json["reason"], "pre_approved");
    let denied = serde_json::to_value(check(IOS, None, true).answer(None)).unwrap();
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reason"], "not_allowed");
    assert!(denied.get("groups").is_none());
}

#[test]
fn reason_codes_serialise_as_documented() {
    for reason in [
        Reason::PreApproved,
        Reason::OpenEnrollment,
        Reason::NotPreApproved,
        Reason::PlatformMismatch,
        Reason::PasswordRequired,
        Reason::PasswordMismatch,
        Reason::AlreadyEnrolled,
        Reason::Locked,
        Reason::UnsupportedPlatform,
        Reason::UnsupportedEnrollmentMethod,
    ] {
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            serde_json::Value::String(reason.as_str().to_owned())
        );
    }
}

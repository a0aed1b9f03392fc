//! What a new password must be: at least [`MIN_PASSWORD_CHARS`] characters, and none
//! of the passwords attackers try first. A guessed password is refused whole, and so
//! is one that is such a password with digits or symbols added at its ends
//! ("Password1234!", "!!qwerty2024"), a run of one character, a run along the digits
//! or the alphabet, or the user's own id.

use crate::error::CoreError;

use super::password::MAX_PASSWORD_BYTES;

/// Fewest characters a password may hold.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Words and keyboard runs that lead the lists of leaked passwords, lowercased. A
/// password is refused when, once the digits and symbols around it are taken off,
/// what is left is one of these (or one of these written twice).
#[rustfmt::skip]
const COMMON: &[&str] = &[
    "password", "passw0rd", "p@ssw0rd", "p@ssword", "pa55word", "passwort",
    "motdepasse", "contraseña", "qwerty", "qwertz", "azerty", "qwertyuiop",
    "qwertyuiopasdfgh", "asdfghjkl", "asdfgh", "zxcvbnm", "zxcvbn", "qazwsx",
    "qazwsxedc", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t", "1q2w3e", "q1w2e3r4", "abc",
    "abcd", "abcdef", "abcdefg", "abcdefgh", "letmein", "welcome", "admin",
    "administrator", "root", "toor", "login", "master", "monkey", "dragon", "shadow",
    "sunshine", "princess", "football", "baseball", "soccer", "hockey", "basketball",
    "superman", "batman", "spiderman", "starwars", "pokemon", "iloveyou", "trustno1",
    "whatever", "freedom", "hello", "helloworld", "secret", "changeme", "changeit",
    "default", "guest", "test", "tester", "testing", "temp", "temporary", "user",
    "username", "access", "mustang", "michael", "jennifer", "jordan", "hunter",
    "ranger", "harley", "charlie", "thomas", "robert", "daniel", "jessica", "ashley",
    "nicole", "matthew", "andrew", "joshua", "computer", "internet", "security",
    "summer", "winter", "spring", "autumn", "january", "february", "monday", "friday",
    "lovely", "loveme", "flower", "cheese", "chocolate", "cookie", "banana", "orange",
    "purple", "silver", "golden", "diamond", "killer", "matrix", "ninja", "google",
    "facebook", "linkedin", "microsoft", "apple", "samsung", "podium", "conductor",
    "orkes", "workflow", "company", "letmeinplease", "opensesame",
    "correcthorsebatterystaple", "myspace", "blink", "zaq12wsx", "zaq1xsw2", "asdf",
    "qwer", "zxcv", "aaaa", "xxxx",
];

/// Whether `text` is a run of one character, or a run up or down the digits, the
/// alphabet or a keyboard row.
fn is_run(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 2 {
        return false;
    }
    if chars.iter().all(|c| *c == chars[0]) {
        return true;
    }
    const SEQUENCES: [&str; 5] = [
        "0123456789012345678901234567890",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "qwertyuiopqwertyuiop",
        "asdfghjklasdfghjkl",
        "zxcvbnmzxcvbnm",
    ];
    let forward = text.to_lowercase();
    let backward: String = forward.chars().rev().collect();
    SEQUENCES
        .iter()
        .any(|s| s.contains(forward.as_str()) || s.contains(backward.as_str()))
}

/// The password with the digits, symbols and spaces at its ends taken off, lowercased,
/// and with the usual letter swaps undone (`@` for `a`, `0` for `o`, `$` for `s`...).
fn core_word(password: &str) -> String {
    let trimmed = password
        .trim_matches(|c: char| !c.is_alphabetic())
        .to_lowercase();
    trimmed
        .chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            other => other,
        })
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-' && *c != '.')
        .collect()
}

/// Whether `word` is a common word, or one written twice.
fn is_common(word: &str) -> bool {
    let undo = |w: &str| core_word(w);
    let common = |w: &str| COMMON.iter().any(|c| undo(c) == w);
    if common(word) {
        return true;
    }
    let chars: Vec<char> = word.chars().collect();
    let half = chars.len() / 2;
    chars.len().is_multiple_of(2) && chars[..half] == chars[half..] && {
        let first: String = chars[..half].iter().collect();
        common(&first) || is_run(&first)
    }
}

/// Refuses, with a 400 that says why, a password a person may not choose.
pub fn check_new_password(user_id: &str, password: &str) -> Result<(), CoreError> {
    let refuse = |why: &str| Err(CoreError::invalid(format!("The password {why}")));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return refuse(&format!(
            "is too short: use at least {MIN_PASSWORD_CHARS} characters (a few words make a good one)"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return refuse(&format!("is too long: at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.chars().any(char::is_control) {
        return refuse("holds control characters");
    }
    let lowered = password.to_lowercase();
    let id = user_id.trim().to_lowercase();
    let holds_id = id.chars().count() >= 4 && lowered.contains(&id);
    if holds_id || (!id.is_empty() && core_word(password) == core_word(&id)) {
        return refuse("holds the user's id");
    }
    let compact: String = password.chars().filter(|c| !c.is_whitespace()).collect();
    if is_run(&compact) || is_run(&core_word(password)) {
        return refuse("is a run of one character or a sequence; choose one that is hard to guess");
    }
    if is_common(&core_word(password)) || is_common(&lowered.replace(' ', "")) {
        return refuse(
            "is among the passwords attackers try first; choose one that is hard to guess",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guessable_passwords_are_refused_with_the_reason() {
        for (password, why) in [
            ("short", "too short"),
            ("Password1234", "attackers try first"),
            ("P@ssw0rd2024!", "attackers try first"),
            ("!!qwerty123456", "sequence"),
            ("Sunshine!2024", "attackers try first"),
            ("qwertyuiopasdfgh", "attackers try first"),
            ("123456789012", "sequence"),
            ("zyxwvutsrqponm", "sequence"),
            ("aaaaaaaaaaaaaa", "sequence"),
            ("monkeymonkey99", "attackers try first"),
            ("alice.smith-2024", "user's id"),
        ] {
            let err = check_new_password("alice.smith", password)
                .expect_err(password)
                .to_string();
            assert!(err.contains(why), "{password}: {err}");
        }
    }

    #[test]
    fn strong_passwords_are_accepted() {
        for password in [
            "correct horse battery",
            "Tr0ub4dor&3-blue-kettle",
            "vx8#Lq2!mZp0r",
            "längere Passphrase",
            "8472!93#@5610",
        ] {
            check_new_password("alice", password).expect(password);
        }
    }
}

//! Names that become file names.

/// pm2's file-name rule for apps' default log and pid files (`formated_app_name` in
/// `Common.prepareAppConf`, regex `/[^a-zA-Z0-9\\.\\-]/g`): anything but ASCII letters, digits,
/// `.`, `-` and `\` becomes `-`. pm2's doubled escapes put `\` in the class; it is no path
/// separator on Unix, so a name still cannot put a file outside its folder.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '\\') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_names_inside_their_folder() {
        assert_eq!(file_safe("api-v1.2"), "api-v1.2");
        assert_eq!(file_safe("../../escape"), "..-..-escape");
        assert_eq!(file_safe("my_app x"), "my-app-x");
        assert_eq!(file_safe("né"), "n-");
    }

    #[test]
    fn keeps_a_backslash_as_pm2_does() {
        // node: 'a\\b c/d'.replace(/[^a-zA-Z0-9\\.\\-]/g, '-') === 'a\\b-c-d'
        assert_eq!(file_safe("a\\b c/d"), "a\\b-c-d");
        assert_eq!(file_safe("..\\..\\x"), "..\\..\\x");
    }
}

//! Reading the repository's Markdown as the docs tests need it: fenced blocks
//! and the shell commands in them.

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

/// Whether `line` opens or closes a fenced code block: ```` ``` ```` and an
/// optional language tag, nothing else.
pub fn is_fence(line: &str) -> bool {
    line.trim()
        .strip_prefix("```")
        .is_some_and(|tag| tag.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The bodies of the fenced blocks opened with exactly ```` ```lang ````.
pub fn fenced(markdown: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_end() == open => current = Some(String::new()),
            None => {}
            Some(_) if is_fence(line) => {
                blocks.extend(current.take());
            }
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unclosed ```{lang} block");
    blocks
}

/// The commands of a shell block, one per entry: lines ending in `\` joined
/// to the next, as the shell reads them.
pub fn shell_commands(block: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut joined = String::new();
    for line in block.lines() {
        match line.trim_end().strip_suffix('\\') {
            Some(start) => {
                joined.push_str(start);
                joined.push(' ');
            }
            None => {
                joined.push_str(line);
                commands.push(std::mem::take(&mut joined));
            }
        }
    }
    if !joined.is_empty() {
        commands.push(joined);
    }
    commands
}

/// `command` without its comment (a `#` that starts a word, outside quotes)
/// and with runs of blanks made one space: the form the docs tests compare.
pub fn without_comment(command: &str) -> String {
    let mut kept = String::new();
    let mut quote: Option<char> = None;
    let mut word_start = true;
    for c in command.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && word_start => break,
            None => {}
        }
        word_start = quote.is_none() && c.is_whitespace();
        kept.push(c);
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a shell command line into words, honouring single and double quotes
/// (no expansions: `"$VAR"` stays `$VAR`).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in {line:?}");
    if in_word {
        words.push(word);
    }
    words
}

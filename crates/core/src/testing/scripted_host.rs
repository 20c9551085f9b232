//! The host a login runs in, scripted: what libpam and the application would give the
//! module, without either.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::audit;
use crate::authenticate::{Host, Level};

/// A [`Host`] whose user, remote host, PAM_AUTHTOK and answers are scripted, and which
/// records every prompt and log line.
///
/// Answers come from a queue ([`ScriptedHost::answering`],
/// [`ScriptedHost::failing_conversation`]): being asked more often than scripted fails the
/// test, and so does dropping the host with a scripted answer never asked for. Once the
/// queue is empty, [`ScriptedHost::answering_every_prompt`] answers whatever is asked.
pub struct ScriptedHost {
    /// The user libpam names, as bytes (`None`: the application gave none).
    pub user: Option<Vec<u8>>,
    /// PAM_RHOST, as bytes.
    pub rhost: Option<Vec<u8>>,
    /// PAM_AUTHTOK, as an earlier module would leave it.
    pub authtok: Option<Vec<u8>>,
    /// Every prompt shown, in order.
    pub prompts: Vec<String>,
    /// Every log line, in order, with its priority.
    pub logs: Vec<(Level, String)>,
    /// Every message shown to the user without a prompt (PAM_ERROR_MSG), in order.
    pub messages: Vec<String>,
    /// Every audit record written, in order.
    pub audits: Vec<audit::Event>,
    /// What [`Host::audit`] answers (default: sent).
    pub audit_outcome: audit::Outcome,
    answers: VecDeque<Option<Vec<u8>>>,
    every_prompt: Option<Vec<u8>>,
}

impl ScriptedHost {
    /// A host for `user`, with no remote host, no token and no answers yet.
    pub fn new(user: &str) -> ScriptedHost {
        ScriptedHost {
            user: Some(user.as_bytes().to_vec()),
            rhost: None,
            authtok: None,
            prompts: Vec::new(),
            logs: Vec::new(),
            messages: Vec::new(),
            audits: Vec::new(),
            audit_outcome: audit::Outcome::Sent,
            answers: VecDeque::new(),
            every_prompt: None,
        }
    }

    /// Sets PAM_RHOST.
    pub fn rhost(mut self, host: &str) -> ScriptedHost {
        self.rhost = Some(host.as_bytes().to_vec());
        self
    }

    /// Sets PAM_AUTHTOK.
    pub fn authtok(mut self, token: &[u8]) -> ScriptedHost {
        self.authtok = Some(token.to_vec());
        self
    }

    /// The next prompt is answered with `answer`.
    pub fn answering(mut self, answer: &[u8]) -> ScriptedHost {
        self.answers.push_back(Some(answer.to_vec()));
        self
    }

    /// The next prompt gets no answer: the conversation fails.
    pub fn failing_conversation(mut self) -> ScriptedHost {
        self.answers.push_back(None);
        self
    }

    /// Every prompt after the scripted ones is answered with `answer`, as a user who types
    /// the same thing whenever asked.
    pub fn answering_every_prompt(mut self, answer: &[u8]) -> ScriptedHost {
        self.every_prompt = Some(answer.to_vec());
        self
    }

    /// The one log line that is not a debug line (fails the test unless there is exactly one).
    pub fn outcome_line(&self) -> &str {
        let lines: Vec<_> = self
            .logs
            .iter()
            .filter(|(level, _)| *level != Level::Debug)
            .collect();
        assert_eq!(lines.len(), 1, "exactly one outcome line: {:?}", self.logs);
        &lines[0].1
    }
}

impl Drop for ScriptedHost {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.answers.is_empty(), "scripted answers never asked for");
        }
    }
}

impl Host for ScriptedHost {
    fn user(&mut self) -> Option<Vec<u8>> {
        self.user.clone()
    }
    fn remote_host(&self) -> Option<Vec<u8>> {
        self.rhost.clone()
    }
    fn authtok(&self) -> Option<Zeroizing<Vec<u8>>> {
        self.authtok.clone().map(Zeroizing::new)
    }
    fn ask(&mut self, prompt: &str) -> Option<Zeroizing<Vec<u8>>> {
        self.prompts.push(prompt.to_string());
        let answer = match self.answers.pop_front() {
            Some(scripted) => scripted,
            None => Some(
                self.every_prompt
                    .clone()
                    .expect("the module asked more often than scripted"),
            ),
        };
        answer.map(Zeroizing::new)
    }
    fn log(&mut self, level: Level, line: &str) {
        self.logs.push((level, line.to_string()));
    }
    fn inform(&mut self, text: &str) {
        self.messages.push(text.to_string());
    }
    fn audit(&mut self, events: &[audit::Event]) -> audit::Outcome {
        self.audits.extend_from_slice(events);
        self.audit_outcome
    }
}

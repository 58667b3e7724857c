//! Stable diagnostic codes. A code never changes meaning once shipped; retired codes are not reused.

use std::fmt;

use super::Severity;

macro_rules! codes {
    ($($name:ident = $num:literal, $sev:ident, $what:literal;)*) => {
        /// Every diagnostic baton can emit. `E` codes are errors, `W` codes warnings.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($name,)* }

        impl Code {
            /// All codes, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            #[must_use]
            pub fn number(self) -> u16 { match self { $(Code::$name => $num,)* } }

            #[must_use]
            pub fn severity(self) -> Severity { match self { $(Code::$name => Severity::$sev,)* } }

            /// One line saying what the code is about.
            #[must_use]
            pub fn summary(self) -> &'static str { match self { $(Code::$name => $what,)* } }
        }
    };
}

codes! {
    // Files and syntax.
    Io = 1, Error, "a file could not be read";
    YamlSyntax = 2, Error, "the YAML is malformed";
    DuplicateKey = 3, Error, "a mapping has the same key twice";
    UnsetVariable = 4, Error, "an environment variable used in `${...}` is not set";
    TooDeep = 5, Error, "the document nests or expands beyond the loader's limits";
    BadInterpolation = 6, Error, "a `${...}` expression is malformed";
    // Schema.
    MissingProperty = 101, Error, "a required property is missing";
    UnknownProperty = 102, Error, "a property is not allowed here";
    WrongType = 103, Error, "a value has the wrong type";
    NotAllowed = 104, Error, "a value is not one of the allowed values or patterns";
    OutOfRange = 105, Error, "a number, string or list is outside its bounds";
    SchemaOther = 106, Error, "the value breaks another schema rule";
    // References.
    DuplicateId = 201, Error, "two items share an id";
    UnknownTask = 202, Error, "a reference names a task that does not exist";
    UnknownAgent = 203, Error, "a reference names an agent that does not exist";
    MissingGate = 204, Error, "a gate's script file does not exist";
    UnknownLifecycle = 205, Error, "a lifecycle is neither built in, defined, nor a file";
    UnknownState = 206, Error, "a reference names a lifecycle state that does not exist";
    UnknownEvent = 207, Error, "a timeout fires an event no transition from its state handles";
    DependencyCycle = 208, Error, "tasks depend on each other in a cycle";
    UnknownApprover = 209, Error, "an approval names an approver that does not exist";
    // Lifecycle.
    LifecycleNoInitial = 301, Error, "the initial state is not one of the states";
    UnreachableState = 302, Error, "a state cannot be reached from the initial state";
    DeadEndState = 303, Error, "a non-terminal state cannot reach a terminal state";
    TransitionFromTerminal = 304, Error, "a transition leaves a terminal state";
    DuplicateState = 305, Error, "a state is declared twice";
    AmbiguousTransition = 306, Error, "two unguarded transitions leave a state on the same event";
    // Agents.
    NoCapableAgent = 401, Error, "no agent has every capability a task requires";
    AgentLacksCapability = 402, Error, "the assigned agent lacks a capability the task requires";
    // Money.
    NegativeReward = 501, Error, "a reward is negative";
    RewardPrecision = 502, Error, "a reward has more decimal places than the token allows";
    OverBudget = 503, Error, "the total reward exceeds the budget";
    WorstCaseOverBudget = 504, Warning, "with every retry paid, spending could exceed the budget";
    // Festival directories.
    BrokenFestReference = 701, Error, "a festival dependency names a task that does not exist";
    FestFrontMatter = 702, Warning, "a festival file's front matter could not be read";
    FestProgressLog = 703, Warning, "a line of the festival's progress log could not be read";
    NotAFestival = 704, Error, "the directory holds no phases, sequences or tasks";
    // Gates and guards.
    GateSyntax = 801, Error, "a gate script does not compile";
    GuardSyntax = 802, Error, "a `when:` guard does not compile";
    // Warnings about the plan.
    UnpaidTask = 601, Warning, "no path through the lifecycle pays this task";
    UnusedAgent = 602, Warning, "an agent is never assigned and has no capability a task needs";
    UnreachableTask = 603, Warning, "a task can never become ready";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self.severity() {
            Severity::Error => 'E',
            Severity::Warning => 'W',
        };
        write!(f, "{letter}{:04}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut numbers: Vec<u16> = Code::ALL.iter().map(|c| c.number()).collect();
        numbers.sort_unstable();
        let before = numbers.len();
        numbers.dedup();
        assert_eq!(before, numbers.len());
    }

    #[test]
    fn display_pads_to_four_digits() {
        assert_eq!(Code::YamlSyntax.to_string(), "E0002");
        assert_eq!(Code::UnusedAgent.to_string(), "W0602");
    }
}

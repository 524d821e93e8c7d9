//! The TypeScript declarations of the command surface, generated from the command list.

use super::*;

macro_rules! command_names {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        /// The names of every command, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        fn commands_typescript(cfg: &ts_rs::Config) -> String {
            let mut s = String::from("/** Every command: its request and response types. */\nexport type Commands = {\n");
            $(
                s.push_str(&format!(
                    "  {}: {{ req: {}; res: {} }};\n",
                    stringify!($name),
                    <$req as TS>::name(cfg),
                    <$res as TS>::name(cfg)
                ));
            )*
            s.push_str("};\n");
            s
        }
    };
}
crate::with_commands!(command_names);

/// The shell's own commands (`src-tauri/src/commands.rs`): tray, deep links, settings applied, portal channel.
/// They take Tauri state, so they are not part of [`with_commands!`]; their types are declared here all the same.
#[macro_export]
macro_rules! with_shell_commands {
    ($m:ident) => {
        $m! {
            shell_tray_state: () => $crate::api::TrayView;
            shell_tray_lines: () => ::std::option::Option<(::std::string::String, ::std::string::String)>;
            shell_take_link: () => ::std::option::Option<::std::string::String>;
            shell_settings_changed: () => ();
            shell_portal_connect: () => ();
        }
    };
}

/// The events the shell sends to the window, with their payload.
#[macro_export]
macro_rules! with_events {
    ($m:ident) => {
        $m! {
            "tray-state": $crate::api::TrayView;
            "navigate": ::std::string::String;
            "deep-link": ::std::string::String;
            "progress": $crate::progress::Progress;
            "live-state": $crate::live::LiveEvent;
            "portal-state": $crate::api::PortalState;
        }
    };
}

/// Collects the declarations of a type and of every type it names, each once, by TypeScript name (ts-rs does not
/// visit dependencies in a stable order; TypeScript needs none).
struct Declarations<'a> {
    cfg: &'a ts_rs::Config,
    seen: std::collections::HashSet<std::any::TypeId>,
    decls: std::collections::BTreeMap<String, String>,
}

impl ts_rs::TypeVisitor for Declarations<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if !self.seen.insert(std::any::TypeId::of::<T>()) {
            return;
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
        if T::output_path().is_some() {
            self.decls.insert(T::ident(self.cfg), T::decl(self.cfg));
        }
    }
}

macro_rules! visit_commands {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        fn visit_commands(v: &mut Declarations<'_>) {
            use ts_rs::TypeVisitor;
            $( v.visit::<$req>(); v.visit::<$res>(); )*
        }
    };
}

macro_rules! shell_typescript {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        fn visit_shell_commands(v: &mut Declarations<'_>) {
            use ts_rs::TypeVisitor;
            $( v.visit::<$req>(); v.visit::<$res>(); )*
        }

        fn shell_commands_typescript(cfg: &ts_rs::Config) -> String {
            let mut s = String::from("/** The shell's own commands (`shell()`): their request and response types. */\nexport type ShellCommands = {\n");
            $(
                s.push_str(&format!(
                    "  {}: {{ req: {}; res: {} }};\n",
                    stringify!($name),
                    <$req as TS>::name(cfg),
                    <$res as TS>::name(cfg)
                ));
            )*
            s.push_str("};\n");
            s
        }
    };
}

macro_rules! events_typescript {
    ($($name:literal : $payload:ty;)*) => {
        fn visit_events(v: &mut Declarations<'_>) {
            use ts_rs::TypeVisitor;
            $( v.visit::<$payload>(); )*
        }

        fn events_typescript(cfg: &ts_rs::Config) -> String {
            let mut s = String::from("/** The shell's events: their payload. */\nexport type Events = {\n");
            $( s.push_str(&format!("  \"{}\": {};\n", $name, <$payload as TS>::name(cfg))); )*
            s.push_str("};\n");
            s
        }
    };
}

crate::with_commands!(visit_commands);
crate::with_shell_commands!(shell_typescript);
crate::with_events!(events_typescript);

/// The TypeScript declarations of every type the commands, the shell's commands and the events name (found from
/// the command table, each once, in name order) plus the `Commands`, `ShellCommands` and `Events` maps, as one
/// module (written to `ui/src/bindings.ts` by `trousseau-desktop --write-bindings`; a test checks it is current).
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new();
    let mut v = Declarations { cfg: &cfg, seen: Default::default(), decls: Default::default() };
    ts_rs::TypeVisitor::visit::<ApiError>(&mut v);
    visit_commands(&mut v);
    visit_shell_commands(&mut v);
    visit_events(&mut v);
    let mut out = String::from(
        "// Generated from the command table in src/api/ by ts-rs (`cargo run -p trousseau-desktop -- --write-bindings`). Do not edit.\n\n",
    );
    for d in v.decls.into_values() {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&commands_typescript(&cfg));
    out.push('\n');
    out.push_str(&shell_commands_typescript(&cfg));
    out.push('\n');
    out.push_str(&events_typescript(&cfg));
    out
}

//! Podium's core: the Conductor model, the workflow engine, the services behind the
//! API, security, and the store traits. No HTTP server and no SQL live here.

/// Defines a fieldless enum together with the list of all its variants, so that a
/// walk over the variants cannot miss one added later.
macro_rules! kinds {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
        }
    };
}
pub(crate) use kinds;

pub mod clock;
pub mod engine;
pub mod error;
pub mod exec;
pub mod model;
pub mod scheduler;
pub mod security;
pub mod service;
pub mod store;

#[cfg(feature = "testkit")]
pub mod testkit;

//! The one list of providers a `[[source]]` can name: name → configuration type →
//! constructor. Adding a provider is one line here (and its facade feature).

use affiliate::census::CensusConfig;
use affiliate::coinw::CoinwConfig;
use affiliate::http::config::{ProviderConfig, SecretKey, SourceConfig};
use affiliate::prefactor::PrefactorConfig;
use affiliate::triport::TriportConfig;

/// Why a table did not deserialize: the path of the bad key and serde's message.
pub(crate) type ReadError = serde_path_to_error::Error<toml::de::Error>;

/// One provider the configuration file can name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Registered {
    /// `provider = "…"`.
    pub(crate) name: &'static str,
    /// Its keys that name secret variables.
    pub(crate) secrets: &'static [SecretKey],
    /// Reads the provider's own keys.
    pub(crate) read: fn(toml::Value) -> Result<Box<dyn SourceConfig>, ReadError>,
}

impl Registered {
    const fn of<C: ProviderConfig>() -> Self {
        Self {
            name: C::NAME,
            secrets: C::SECRETS,
            read: read::<C>,
        }
    }
}

fn read<C: ProviderConfig>(table: toml::Value) -> Result<Box<dyn SourceConfig>, ReadError> {
    let config: C = serde_path_to_error::deserialize(table)?;
    Ok(Box::new(config))
}

/// Every provider, in the order messages list them.
pub(crate) const PROVIDERS: &[Registered] = &[
    Registered::of::<TriportConfig>(),
    Registered::of::<CoinwConfig>(),
    Registered::of::<PrefactorConfig>(),
    Registered::of::<CensusConfig>(),
];

/// The provider called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Registered> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Every provider's name.
pub(crate) fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.name).collect()
}

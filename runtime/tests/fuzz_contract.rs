//! Property-based fuzzing of the contract reader: arbitrary metadata values must give a valid
//! contract or a typed error naming the key, never a panic; valid contracts round-trip.

use std::collections::BTreeMap;

use gan_runtime::contract::{keys, MAX_CLASSES, MAX_IMAGE_SIDE, MAX_LATENT_DIM};
use gan_runtime::{ContractError, ModelContract};
use proptest::prelude::*;

const KEYS: [&str; 12] = [
    keys::FORMAT_VERSION,
    keys::LATENT_DIM,
    keys::LATENT_DISTRIBUTION,
    keys::LATENT_SAMPLER,
    keys::CHANNELS,
    keys::HEIGHT,
    keys::WIDTH,
    keys::OUTPUT_RANGE,
    keys::NUM_CLASSES,
    keys::CLASS_NAMES,
    keys::TRAIN_STEPS,
    keys::DATASET,
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        (any::<f32>(), any::<f32>()).prop_map(|(a, b)| format!("{a},{b}")),
        Just(String::new()),
        Just("1".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_values_never_panic(edits in proptest::collection::vec((0usize..KEYS.len(), value(), any::<bool>()), 0..6)) {
        let mut m: BTreeMap<String, String> = ModelContract::new(100, 1, 28, 28).to_metadata();
        for (k, v, remove) in edits {
            if remove {
                m.remove(KEYS[k]);
            } else {
                m.insert(KEYS[k].to_string(), v);
            }
        }
        match ModelContract::from_metadata(|k| m.get(k).cloned()) {
            Ok(c) => {
                prop_assert!(c.latent_dim >= 1 && c.latent_dim <= MAX_LATENT_DIM);
                prop_assert!(c.height >= 1 && c.height <= MAX_IMAGE_SIDE && c.width <= MAX_IMAGE_SIDE);
                prop_assert!(c.num_classes <= MAX_CLASSES);
                prop_assert!(c.output_range.0 < c.output_range.1);
                prop_assert!(c.class_names.is_empty() || c.class_names.len() == c.num_classes);
            }
            Err(ContractError::Missing { key }) | Err(ContractError::Invalid { key, .. }) => {
                prop_assert!(key.starts_with("gan."));
            }
            Err(e) => prop_assert!(false, "unexpected error kind {e}"),
        }
    }

    #[test]
    fn valid_contracts_round_trip(latent in 1usize..=MAX_LATENT_DIM, c in prop_oneof![Just(1usize), Just(3), Just(4)], h in 1usize..=MAX_IMAGE_SIDE, w in 1usize..=MAX_IMAGE_SIDE, classes in 0usize..20, steps in any::<u64>()) {
        let mut contract = ModelContract::new(latent, c, h, w);
        contract.num_classes = classes;
        contract.class_names = (0..classes).map(|i| format!("class {i}")).collect();
        contract.train_steps = steps;
        let m = contract.to_metadata();
        prop_assert_eq!(ModelContract::from_metadata(|k| m.get(k).cloned()).unwrap(), contract);
    }
}

"""Google Cloud collectors (google-cloud-storage; STORAGE_EMULATOR_HOST points it at an emulator)."""

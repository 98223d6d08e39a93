"""File formats MXNet and recpack exchange: RecordIO (.rec/.idx), image lists (.lst), label maps."""

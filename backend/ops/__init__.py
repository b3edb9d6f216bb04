"""Operations: health probes and logging."""

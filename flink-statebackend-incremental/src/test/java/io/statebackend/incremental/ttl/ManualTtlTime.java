package io.statebackend.incremental.ttl;

import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/** A TTL clock the test moves by hand. */
final class ManualTtlTime implements TtlTimeProvider {
    long now;

    @Override
    public long currentTimestamp() {
        return now;
    }
}

package io.statebackend.incremental;

import org.apache.flink.configuration.ReadableConfig;

/**
 * An {@link IncrementalRocksDBOptionsFactory} that reads settings of its own from the job and
 * cluster configuration, like Flink's {@code ConfigurableRocksDBOptionsFactory}.
 */
public interface ConfigurableIncrementalRocksDBOptionsFactory
        extends IncrementalRocksDBOptionsFactory {

    /**
     * Returns a factory that applies the given configuration: this one, changed, or a copy. Called
     * once, when the backend is configured.
     */
    IncrementalRocksDBOptionsFactory configure(ReadableConfig configuration);
}

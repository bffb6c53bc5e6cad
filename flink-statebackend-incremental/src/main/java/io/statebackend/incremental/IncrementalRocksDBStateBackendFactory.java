package io.statebackend.incremental;

import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.runtime.state.StateBackendFactory;

/**
 * Creates the backend from {@code state.backend.type:
 * io.statebackend.incremental.IncrementalRocksDBStateBackendFactory}.
 */
public class IncrementalRocksDBStateBackendFactory
        implements StateBackendFactory<IncrementalRocksDBStateBackend> {

    @Override
    public IncrementalRocksDBStateBackend createFromConfig(
            ReadableConfig config, ClassLoader classLoader) throws IllegalConfigurationException {
        return new IncrementalRocksDBStateBackend().configure(config, classLoader);
    }
}

package io.statebackend.incremental.loader;

import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.runtime.state.StateBackendFactory;

/**
 * Creates the backend from classes visible to the caller's class loader. Lives only in the backend
 * jar; the loader reaches it by name, so that the loader jar needs none of its classes.
 */
public final class DirectBackendFactory
        implements StateBackendFactory<IncrementalRocksDBStateBackend> {

    @Override
    public IncrementalRocksDBStateBackend createFromConfig(
            ReadableConfig config, ClassLoader classLoader) throws IllegalConfigurationException {
        return new IncrementalRocksDBStateBackend().configure(config, classLoader);
    }
}

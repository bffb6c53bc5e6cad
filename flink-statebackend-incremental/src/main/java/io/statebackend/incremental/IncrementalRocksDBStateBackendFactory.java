package io.statebackend.incremental;

import io.statebackend.incremental.loader.BackendLocator;

import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StateBackendFactory;

import java.io.IOException;

/**
 * Creates the backend from {@code state.backend.type:
 * io.statebackend.incremental.IncrementalRocksDBStateBackendFactory}.
 *
 * <p>The same class is in the backend jar and in the loader jar in Flink's {@code lib/}: with the
 * backend on the class path it creates it directly, otherwise it loads it from {@code
 * plugins/statebackend-incremental/}.
 */
public class IncrementalRocksDBStateBackendFactory implements StateBackendFactory<StateBackend> {

    @Override
    public StateBackend createFromConfig(ReadableConfig config, ClassLoader classLoader)
            throws IllegalConfigurationException, IOException {
        return BackendLocator.locate(config).createFromConfig(config, classLoader);
    }
}

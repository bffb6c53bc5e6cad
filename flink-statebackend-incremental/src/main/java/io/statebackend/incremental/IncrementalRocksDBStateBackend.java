package io.statebackend.incremental;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.loader.RocksDBVersionGuard;
import io.statebackend.incremental.metrics.RocksDBNativeMetricOptions;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;
import io.statebackend.incremental.rocksdb.options.ConfigurationWarnings;
import io.statebackend.incremental.rocksdb.options.PredefinedOptions;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.execution.Environment;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.AbstractManagedMemoryStateBackend;
import org.apache.flink.runtime.state.BackendBuildingException;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.DefaultOperatorStateBackendBuilder;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.OperatorStateBackend;
import org.apache.flink.util.Preconditions;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.annotation.Nullable;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A state backend that keeps keyed state in upstream RocksDB and checkpoints it incrementally.
 *
 * <p>Settings made on an instance (through the setters) take precedence over the cluster and job
 * configuration applied by {@link #configure(ReadableConfig, ClassLoader)}; every setting is
 * validated when the backend is configured, so a wrong value fails the job at start.
 */
public class IncrementalRocksDBStateBackend extends AbstractManagedMemoryStateBackend
        implements ConfigurableStateBackend {

    private static final long serialVersionUID = 1L;

    private static final Logger LOG = LoggerFactory.getLogger(IncrementalRocksDBStateBackend.class);

    /** Options set explicitly on this instance; they win over any configuration. */
    private final Configuration explicitSettings;

    /** The validated settings, from the explicit ones and the last applied configuration. */
    private final IncrementalRocksDBSettings settings;

    /** Which native metrics to report, from the same sources as {@link #settings}. */
    private RocksDBNativeMetricOptions nativeMetricOptions;

    public IncrementalRocksDBStateBackend() {
        this(new Configuration());
    }

    public IncrementalRocksDBStateBackend(boolean incrementalCheckpoints) {
        this(withIncremental(incrementalCheckpoints));
    }

    private IncrementalRocksDBStateBackend(Configuration explicitSettings) {
        this(explicitSettings, IncrementalRocksDBSettings.fromConfig(explicitSettings));
    }

    private IncrementalRocksDBStateBackend(
            Configuration explicitSettings, IncrementalRocksDBSettings settings) {
        RocksDBVersionGuard.check();
        this.explicitSettings = explicitSettings;
        this.settings = settings;
        this.nativeMetricOptions = RocksDBNativeMetricOptions.fromConfig(explicitSettings);
    }

    private static Configuration withIncremental(boolean incremental) {
        Configuration configuration = new Configuration();
        configuration.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, incremental);
        return configuration;
    }

    // ------------------------------------------------------------------------
    //  configuration
    // ------------------------------------------------------------------------

    @Override
    public IncrementalRocksDBStateBackend configure(ReadableConfig config, ClassLoader classLoader)
            throws IllegalConfigurationException {
        Configuration merged = new Configuration();
        for (Map.Entry<String, String> entry : config.toMap().entrySet()) {
            merged.setString(entry.getKey(), entry.getValue());
        }
        merged.addAll(explicitSettings);
        IncrementalRocksDBSettings mergedSettings =
                IncrementalRocksDBSettings.fromConfig(merged, classLoader);
        ConfigurationWarnings.logFor(merged, mergedSettings);
        IncrementalRocksDBStateBackend configured =
                new IncrementalRocksDBStateBackend(
                        new Configuration(explicitSettings), mergedSettings);
        configured.latencyTrackingConfigBuilder = latencyTrackingConfigBuilder.configure(config);
        configured.nativeMetricOptions =
                RocksDBNativeMetricOptions.fromConfig(merged, mergedSettings.getOptionsFactory());
        return configured;
    }

    /**
     * Returns a copy of this backend with one more explicit setting. Instances are immutable once
     * configured, because Flink may share them between tasks.
     */
    public IncrementalRocksDBStateBackend withSetting(String key, String value) {
        Configuration candidate = new Configuration(explicitSettings);
        candidate.setString(key, value);
        return new IncrementalRocksDBStateBackend(candidate);
    }

    public IncrementalRocksDBStateBackend withIncrementalCheckpoints(boolean enabled) {
        return withSetting(
                IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS.key(), String.valueOf(enabled));
    }

    public IncrementalRocksDBStateBackend withLocalDirectories(String... paths) {
        return withSetting(
                IncrementalRocksDBOptions.LOCAL_DIRECTORIES.key(), String.join(",", paths));
    }

    public IncrementalRocksDBStateBackend withTimerService(PriorityQueueStateType type) {
        return withSetting(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY.key(), type.name());
    }

    public IncrementalRocksDBStateBackend withTransferThreads(int threads) {
        return withSetting(
                IncrementalRocksDBOptions.CHECKPOINT_TRANSFER_THREAD_NUM.key(),
                String.valueOf(threads));
    }

    /** Retries of a failed upload, and of a failed download unless set on its own. */
    public IncrementalRocksDBStateBackend withUploadRetries(int retries) {
        return withSetting(IncrementalRocksDBOptions.UPLOAD_RETRIES.key(), String.valueOf(retries));
    }

    public IncrementalRocksDBStateBackend withFixedMemoryPerSlot(MemorySize size) {
        return withSetting(
                IncrementalRocksDBOptions.FIX_PER_SLOT_MEMORY_SIZE.key(), size.toString());
    }

    /** The profile applied before the configured RocksDB keys and the options factory. */
    public IncrementalRocksDBStateBackend withPredefinedOptions(PredefinedOptions profile) {
        return withSetting(
                IncrementalRocksDBConfigurableOptions.PREDEFINED_OPTIONS.key(), profile.name());
    }

    /**
     * The options factory applied after the predefined options and the configured keys; it must be
     * visible to the backend's class loader (the plugin folder).
     */
    public IncrementalRocksDBStateBackend withOptionsFactory(
            Class<? extends IncrementalRocksDBOptionsFactory> factoryClass) {
        return withSetting(
                IncrementalRocksDBConfigurableOptions.OPTIONS_FACTORY.key(),
                factoryClass.getName());
    }

    public IncrementalRocksDBSettings getSettings() {
        return settings;
    }

    public boolean isIncrementalCheckpointsEnabled() {
        return settings.isIncrementalCheckpoints();
    }

    // ------------------------------------------------------------------------
    //  capabilities
    // ------------------------------------------------------------------------

    @Override
    public boolean supportsNoClaimRestoreMode() {
        return true;
    }

    @Override
    public boolean supportsSavepointFormat(SavepointFormatType formatType) {
        return true;
    }

    @Override
    public String getName() {
        return "IncrementalRocksDBStateBackend";
    }

    // ------------------------------------------------------------------------
    //  backends
    // ------------------------------------------------------------------------

    @Override
    public <K> AbstractKeyedStateBackend<K> createKeyedStateBackend(
            KeyedStateBackendParameters<K> parameters) throws IOException {
        final Environment env = parameters.getEnv();
        final File instanceDirectory =
                newInstanceDirectory(env, parameters.getOperatorIdentifier());
        final LocalRecoveryConfig localRecoveryConfig =
                env.getTaskStateManager().createLocalRecoveryConfig();

        final OpaqueMemoryResource<RocksDBMemoryResources> memory;
        try {
            memory =
                    RocksDBMemoryResources.acquire(
                            settings, env, parameters.getManagedMemoryFraction());
        } catch (Exception e) {
            throw new IOException("Could not acquire the slot's memory for RocksDB", e);
        }
        try {
            return new IncrementalRocksDBKeyedStateBackendBuilder<>(
                            parameters, settings, instanceDirectory, memory, localRecoveryConfig)
                    .setLatencyTrackingStateConfig(
                            latencyTrackingConfigBuilder
                                    .setMetricGroup(parameters.getMetricGroup())
                                    .build())
                    .setNativeMetricOptions(nativeMetricOptions)
                    .build();
        } catch (Throwable t) {
            // the builder owns the lease only once it returned a backend
            closeQuietly(memory);
            throw t instanceof BackendBuildingException
                    ? (BackendBuildingException) t
                    : new BackendBuildingException(
                            "Could not create the keyed state backend for operator "
                                    + parameters.getOperatorIdentifier(),
                            t);
        }
    }

    @Override
    public OperatorStateBackend createOperatorStateBackend(
            OperatorStateBackendParameters parameters) throws Exception {
        // operator state is small and list-shaped; the runtime's default backend is the right home
        return new DefaultOperatorStateBackendBuilder(
                        parameters.getEnv().getUserCodeClassLoader().asClassLoader(),
                        parameters.getEnv().getExecutionConfig(),
                        true,
                        parameters.getStateHandles(),
                        parameters.getCancelStreamRegistry())
                .build();
    }

    private File newInstanceDirectory(Environment env, String operatorIdentifier) {
        List<File> candidates = new ArrayList<>(settings.getLocalDirectories());
        if (candidates.isEmpty()) {
            for (File tmp : env.getIOManager().getSpillingDirectories()) {
                candidates.add(tmp);
            }
        }
        Preconditions.checkState(!candidates.isEmpty(), "No local directory for RocksDB.");
        File base = candidates.get(ThreadLocalRandom.current().nextInt(candidates.size()));
        String name =
                String.format(
                        "job_%s_op_%s_uuid_%s",
                        env.getJobID(), sanitize(operatorIdentifier), java.util.UUID.randomUUID());
        LOG.debug("RocksDB instance directory for {}: {}", operatorIdentifier, base);
        return new File(base, name);
    }

    /** Makes an operator identifier fit into a file name. */
    static String sanitize(String operatorIdentifier) {
        StringBuilder sb = new StringBuilder(operatorIdentifier.length());
        for (int i = 0; i < operatorIdentifier.length() && sb.length() < 80; i++) {
            char c = operatorIdentifier.charAt(i);
            sb.append(Character.isLetterOrDigit(c) || c == '-' || c == '_' ? c : '_');
        }
        return sb.toString();
    }

    private static void closeQuietly(@Nullable AutoCloseable closeable) {
        if (closeable != null) {
            try {
                closeable.close();
            } catch (Exception e) {
                LOG.warn("Could not release RocksDB memory.", e);
            }
        }
    }

    @Override
    public String toString() {
        return "IncrementalRocksDBStateBackend{incremental="
                + settings.isIncrementalCheckpoints()
                + ", timers="
                + settings.getTimerServiceType()
                + ", localDirectories="
                + settings.getLocalDirectories()
                + '}';
    }
}

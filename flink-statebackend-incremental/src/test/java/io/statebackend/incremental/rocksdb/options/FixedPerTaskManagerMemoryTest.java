package io.statebackend.incremental.rocksdb.options;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBSettings;
import io.statebackend.incremental.rocksdb.RocksDBMemoryResources;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.util.TestingTaskManagerRuntimeInfo;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code state.backend.rocksdb.memory.fixed-per-tm} from the TaskManager's configuration gives all
 * instances of the TaskManager one cache and write buffer manager, when the job uses neither
 * managed memory nor a fixed size per slot, as in Flink.
 */
class FixedPerTaskManagerMemoryTest {

    private static final long PER_TM = 32L << 20;

    private static MockEnvironment environment() {
        Configuration tmConfig = new Configuration();
        tmConfig.setString(
                IncrementalRocksDBConfigurableOptions.FIX_PER_TM_MEMORY_SIZE.key(), "32mb");
        tmConfig.setString(IncrementalRocksDBOptions.WRITE_BUFFER_RATIO.key(), "0.25");
        return MockEnvironment.builder()
                .setTaskManagerRuntimeInfo(new TestingTaskManagerRuntimeInfo(tmConfig))
                .build();
    }

    private static IncrementalRocksDBSettings jobSettings(boolean managed) {
        Configuration job = new Configuration();
        job.setString(IncrementalRocksDBOptions.USE_MANAGED_MEMORY.key(), String.valueOf(managed));
        return IncrementalRocksDBSettings.fromConfig(job);
    }

    @Test
    void instancesOfATaskManagerShareTheFixedMemory() throws Exception {
        try (MockEnvironment env = environment()) {
            IncrementalRocksDBSettings settings = jobSettings(false);
            try (OpaqueMemoryResource<RocksDBMemoryResources> first =
                            RocksDBMemoryResources.acquire(settings, env, 0.0);
                    OpaqueMemoryResource<RocksDBMemoryResources> second =
                            RocksDBMemoryResources.acquire(settings, env, 0.0)) {
                assertThat(first).isNotNull();
                assertThat(second).isNotNull();
                assertThat(first.getResourceHandle()).isSameAs(second.getResourceHandle());
                assertThat(first.getResourceHandle().getShare()).isEqualTo(PER_TM);
                // the ratios come from the TaskManager's configuration
                assertThat(first.getResourceHandle().getWriteBufferManagerCapacity())
                        .isEqualTo(PER_TM / 4);
            }
        }
    }

    @Test
    void managedMemoryTakesPrecedence() throws Exception {
        try (MockEnvironment env = environment()) {
            // managed memory is on, but the operator has no share of it: no TaskManager memory
            assertThat(RocksDBMemoryResources.acquire(jobSettings(true), env, 0.0)).isNull();
        }
    }
}

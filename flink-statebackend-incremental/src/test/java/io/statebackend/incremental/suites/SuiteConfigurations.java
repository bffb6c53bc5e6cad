package io.statebackend.incremental.suites;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import java.util.ArrayList;
import java.util.List;

/** The backend configurations Flink's suites run against: timer service x incremental. */
final class SuiteConfigurations {

    private SuiteConfigurations() {}

    static List<Object[]> timerServiceAndIncremental() {
        List<Object[]> parameters = new ArrayList<>();
        for (PriorityQueueStateType timers : PriorityQueueStateType.values()) {
            for (boolean incremental : new boolean[] {true, false}) {
                parameters.add(new Object[] {timers, incremental});
            }
        }
        return parameters;
    }

    static IncrementalRocksDBStateBackend backend(
            PriorityQueueStateType timers, boolean incremental, String localDirectory) {
        return new IncrementalRocksDBStateBackend()
                .withTimerService(timers)
                .withIncrementalCheckpoints(incremental)
                .withLocalDirectories(localDirectory);
    }
}

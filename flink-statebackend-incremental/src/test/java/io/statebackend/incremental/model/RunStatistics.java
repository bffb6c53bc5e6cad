package io.statebackend.incremental.model;

import java.util.Map;
import java.util.TreeMap;

/** What a run did, counted by name, printed at the end of every seed. */
final class RunStatistics {

    private final Map<String, Long> counters = new TreeMap<>();

    void increment(String name) {
        add(name, 1);
    }

    void add(String name, long amount) {
        counters.merge(name, amount, Long::sum);
    }

    long get(String name) {
        return counters.getOrDefault(name, 0L);
    }

    String summary() {
        StringBuilder text = new StringBuilder();
        for (Map.Entry<String, Long> counter : counters.entrySet()) {
            if (text.length() > 0) {
                text.append(", ");
            }
            text.append(counter.getKey()).append('=').append(counter.getValue());
        }
        return text.toString();
    }
}

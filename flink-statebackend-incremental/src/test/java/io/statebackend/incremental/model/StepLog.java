package io.statebackend.incremental.model;

import java.util.ArrayDeque;
import java.util.Deque;

/** The last steps of a run and what they did, printed when a run fails. */
final class StepLog {

    private final int capacity;
    private final Deque<StringBuilder> steps = new ArrayDeque<>();
    private int step;

    StepLog(int capacity) {
        this.capacity = capacity;
    }

    void beginStep(int step, String description) {
        this.step = step;
        steps.addLast(new StringBuilder("#").append(step).append(' ').append(description));
        while (steps.size() > capacity) {
            steps.removeFirst();
        }
    }

    /** Something the current step did, shown indented under it. */
    void detail(String text) {
        if (steps.isEmpty()) {
            beginStep(step, "(setup)");
        }
        steps.getLast().append("\n      ").append(text);
    }

    int currentStep() {
        return step;
    }

    String lastSteps() {
        StringBuilder all = new StringBuilder();
        for (StringBuilder entry : steps) {
            all.append(entry).append('\n');
        }
        return all.toString();
    }
}

package io.statebackend.incremental.model;

import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

import javax.annotation.Nullable;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the state of the job must be: per key a value, a list, a map and the event-time timers. The
 * model applies every command and every fired timer here too, and keeps a copy of it for every
 * snapshot it takes, to compare what a restore brings back.
 */
public final class ExpectedState {

    /** The state of one key. Timers are compared by firing them, the rest by reading it. */
    public static final class KeyState {
        @Nullable private String value;
        private final List<String> list;
        private final TreeMap<Integer, String> map;
        private final TreeSet<Long> timers;

        KeyState() {
            this(null, new ArrayList<>(), new TreeMap<>(), new TreeSet<>());
        }

        public KeyState(
                @Nullable String value,
                List<String> list,
                TreeMap<Integer, String> map,
                TreeSet<Long> timers) {
            this.value = value;
            this.list = list;
            this.map = map;
            this.timers = timers;
        }

        @Nullable
        public String getValue() {
            return value;
        }

        public List<String> getList() {
            return Collections.unmodifiableList(list);
        }

        public Map<Integer, String> getMap() {
            return Collections.unmodifiableMap(map);
        }

        public TreeSet<Long> getTimers() {
            return timers;
        }

        boolean isEmpty() {
            return value == null && list.isEmpty() && map.isEmpty() && timers.isEmpty();
        }

        /** Whether the state (not the timers) equals that of {@code other}. */
        public boolean sameStateAs(KeyState other) {
            return Objects.equals(value, other.value)
                    && list.equals(other.list)
                    && map.equals(other.map);
        }

        KeyState copy() {
            return new KeyState(
                    value, new ArrayList<>(list), new TreeMap<>(map), new TreeSet<>(timers));
        }

        /** A short description that shows what differs, not every byte of it. */
        public String describe() {
            return "value="
                    + abbreviate(value)
                    + " list="
                    + list.size()
                    + abbreviateList(list)
                    + " map="
                    + map.keySet()
                    + " timers="
                    + timers;
        }

        private static String abbreviate(@Nullable String text) {
            if (text == null) {
                return "null";
            }
            return text.length() <= 12 ? text : text.substring(0, 12) + "..(" + text.length() + ")";
        }

        private static String abbreviateList(List<String> list) {
            List<String> shown = new ArrayList<>();
            for (String element : list) {
                shown.add(abbreviate(element));
            }
            return shown.toString();
        }
    }

    private final int maxParallelism;
    private final TreeMap<Integer, KeyState> keys;

    public ExpectedState(int maxParallelism) {
        this(maxParallelism, new TreeMap<>());
    }

    private ExpectedState(int maxParallelism, TreeMap<Integer, KeyState> keys) {
        this.maxParallelism = maxParallelism;
        this.keys = keys;
    }

    public void apply(Command command) {
        KeyState state = keys.computeIfAbsent(command.getKey(), k -> new KeyState());
        switch (command.getKind()) {
            case SET_VALUE:
                state.value = command.getText();
                break;
            case CLEAR_VALUE:
                state.value = null;
                break;
            case ADD_TO_LIST:
                state.list.add(command.getText());
                break;
            case CLEAR_LIST:
                state.list.clear();
                break;
            case PUT_IN_MAP:
                state.map.put(command.getMapKey(), command.getText());
                break;
            case REMOVE_FROM_MAP:
                state.map.remove(command.getMapKey());
                break;
            case REGISTER_TIMER:
                state.timers.add(command.getTimestamp());
                break;
            case DELETE_TIMER:
                state.timers.remove(command.getTimestamp());
                break;
            case CLEAR_KEY:
                state.value = null;
                state.list.clear();
                state.map.clear();
                break;
            default:
                throw new IllegalArgumentException("Unknown command " + command);
        }
        if (state.isEmpty()) {
            keys.remove(command.getKey());
        }
    }

    /**
     * Fires every timer at or before {@code watermark} of the keys in {@code range}, as the timer
     * service does, and returns what the operator emits for them, sorted.
     */
    public List<String> advanceWatermark(long watermark, KeyGroupRange range) {
        List<String> fired = new ArrayList<>();
        List<Integer> emptied = new ArrayList<>();
        for (Map.Entry<Integer, KeyState> entry : keys.entrySet()) {
            if (!range.contains(keyGroupOf(entry.getKey()))) {
                continue;
            }
            KeyState state = entry.getValue();
            while (!state.timers.isEmpty() && state.timers.first() <= watermark) {
                long timestamp = state.timers.pollFirst();
                state.list.add(CommandFunction.firedMarker(timestamp));
                fired.add(CommandFunction.firedOutput(entry.getKey(), timestamp));
            }
            if (state.isEmpty()) {
                emptied.add(entry.getKey());
            }
        }
        for (Integer key : emptied) {
            keys.remove(key);
        }
        Collections.sort(fired);
        return fired;
    }

    /** What firing every timer of the keys in {@code range} emits, sorted; changes nothing. */
    public List<String> allTimerOutputs(KeyGroupRange range) {
        List<String> outputs = new ArrayList<>();
        for (Map.Entry<Integer, KeyState> entry : keys.entrySet()) {
            if (range.contains(keyGroupOf(entry.getKey()))) {
                for (long timestamp : entry.getValue().timers) {
                    outputs.add(CommandFunction.firedOutput(entry.getKey(), timestamp));
                }
            }
        }
        Collections.sort(outputs);
        return outputs;
    }

    /** The keys in {@code range} that have a value, list or map entries. */
    public TreeMap<Integer, KeyState> statesIn(KeyGroupRange range) {
        TreeMap<Integer, KeyState> result = new TreeMap<>();
        for (Map.Entry<Integer, KeyState> entry : keys.entrySet()) {
            KeyState state = entry.getValue();
            boolean hasState = state.value != null || !state.list.isEmpty() || !state.map.isEmpty();
            if (hasState && range.contains(keyGroupOf(entry.getKey()))) {
                result.put(entry.getKey(), state);
            }
        }
        return result;
    }

    public int keyGroupOf(int key) {
        return KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism);
    }

    public int numberOfKeys() {
        return keys.size();
    }

    public int numberOfTimers() {
        int timers = 0;
        for (KeyState state : keys.values()) {
            timers += state.timers.size();
        }
        return timers;
    }

    @Nullable
    public KeyState get(int key) {
        return keys.get(key);
    }

    public ExpectedState copy() {
        TreeMap<Integer, KeyState> copied = new TreeMap<>();
        for (Map.Entry<Integer, KeyState> entry : keys.entrySet()) {
            copied.put(entry.getKey(), entry.getValue().copy());
        }
        return new ExpectedState(maxParallelism, copied);
    }
}

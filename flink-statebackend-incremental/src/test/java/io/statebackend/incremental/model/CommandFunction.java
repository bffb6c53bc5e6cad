package io.statebackend.incremental.model;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Applies commands to a value, a list and a map state and registers event-time timers; a timer that
 * fires appends a marker to the list and emits {@code key@timestamp}, so the model sees which
 * timers a backend kept and what firing them did to the state.
 */
public final class CommandFunction extends KeyedProcessFunction<Integer, Command, String> {

    private static final long serialVersionUID = 1L;

    public static final String VALUE_STATE = "value";
    public static final String LIST_STATE = "list";
    public static final String MAP_STATE = "map";

    private transient ValueState<String> value;
    private transient ListState<String> list;
    private transient MapState<Integer, String> map;

    public static ValueStateDescriptor<String> valueDescriptor() {
        return new ValueStateDescriptor<>(VALUE_STATE, StringSerializer.INSTANCE);
    }

    public static ListStateDescriptor<String> listDescriptor() {
        return new ListStateDescriptor<>(LIST_STATE, StringSerializer.INSTANCE);
    }

    public static MapStateDescriptor<Integer, String> mapDescriptor() {
        return new MapStateDescriptor<>(
                MAP_STATE, IntSerializer.INSTANCE, StringSerializer.INSTANCE);
    }

    /** What a fired timer appends to the list state of its key. */
    public static String firedMarker(long timestamp) {
        return "fired@" + timestamp;
    }

    /** What a fired timer emits. */
    public static String firedOutput(int key, long timestamp) {
        return key + "@" + timestamp;
    }

    @Override
    public void open(OpenContext openContext) {
        value = getRuntimeContext().getState(valueDescriptor());
        list = getRuntimeContext().getListState(listDescriptor());
        map = getRuntimeContext().getMapState(mapDescriptor());
    }

    @Override
    public void processElement(Command command, Context ctx, Collector<String> out)
            throws Exception {
        switch (command.getKind()) {
            case SET_VALUE:
                value.update(command.getText());
                break;
            case CLEAR_VALUE:
                value.clear();
                break;
            case ADD_TO_LIST:
                list.add(command.getText());
                break;
            case CLEAR_LIST:
                list.clear();
                break;
            case PUT_IN_MAP:
                map.put(command.getMapKey(), command.getText());
                break;
            case REMOVE_FROM_MAP:
                map.remove(command.getMapKey());
                break;
            case REGISTER_TIMER:
                ctx.timerService().registerEventTimeTimer(command.getTimestamp());
                break;
            case DELETE_TIMER:
                ctx.timerService().deleteEventTimeTimer(command.getTimestamp());
                break;
            case CLEAR_KEY:
                value.clear();
                list.clear();
                map.clear();
                break;
            default:
                throw new IllegalArgumentException("Unknown command " + command);
        }
    }

    @Override
    public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out)
            throws Exception {
        list.add(firedMarker(timestamp));
        out.collect(firedOutput(ctx.getCurrentKey(), timestamp));
    }
}

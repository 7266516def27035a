//! [MS-TSTS] LegacyApi replies: RpcWinStationOpenServer, CloseServer and
//! RpcWinStationGetAllProcesses (deferred structures, image names, binary
//! SIDs; a row limit from the first byte), then the model rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::tsts::processes::{
    decode_close_server, decode_get_all_processes, decode_open_server, to_process,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stub)) = data.split_first() else {
        return;
    };
    let _ = decode_open_server(stub);
    let _ = decode_close_server(stub);
    if let Ok(rows) = decode_get_all_processes(stub, usize::from(selector) * 4) {
        for row in rows {
            let _ = to_process(row);
        }
    }
});

//! Calling JS from a libuv callback on the JS thread (see [`super::uv`]), where no napi call
//! is in progress: a handle scope, and `napi_make_callback` with an async context so Node runs
//! nextTicks and microtasks afterwards, as after any I/O callback.

use std::ptr;
use std::rc::Rc;

use napi::sys;

/// The JS function events go to, callable from a libuv callback: a reference to it and an
/// async context, so `napi_make_callback` runs nextTicks and microtasks afterwards as Node
/// does after any I/O callback. Lives on the JS thread only.
pub struct JsTarget {
    env: sys::napi_env,
    func: sys::napi_ref,
    ctx: sys::napi_async_context,
}

impl JsTarget {
    /// # Safety
    /// `env` and `func` must be the current call's environment and a function value in it.
    pub unsafe fn new(env: sys::napi_env, func: sys::napi_value) -> napi::Result<Rc<Self>> {
        let fail = |what: &str| napi::Error::from_reason(format!("cannot set up fork(): {what}"));
        let mut func_ref = ptr::null_mut();
        let mut resource = ptr::null_mut();
        let mut name = ptr::null_mut();
        let mut ctx = ptr::null_mut();
        let label = "pm-native.fork";
        // SAFETY: plain Node-API calls on the caller's live environment.
        unsafe {
            if sys::napi_create_reference(env, func, 1, &mut func_ref) != sys::Status::napi_ok
                || sys::napi_create_object(env, &mut resource) != sys::Status::napi_ok
                || sys::napi_create_string_utf8(
                    env,
                    label.as_ptr().cast(),
                    label.len() as isize,
                    &mut name,
                ) != sys::Status::napi_ok
                || sys::napi_async_init(env, resource, name, &mut ctx) != sys::Status::napi_ok
            {
                return Err(fail("napi_async_init"));
            }
        }
        Ok(Rc::new(JsTarget {
            env,
            func: func_ref,
            ctx,
        }))
    }

    /// Calls `fn(kind, payload)`. A throw becomes an uncaught exception, as from any listener.
    pub fn call(&self, kind: u32, payload: &[u8]) {
        let env = self.env;
        // SAFETY: on the JS thread (libuv callback), inside a handle scope opened here.
        unsafe {
            let mut scope = ptr::null_mut();
            if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
                return;
            }
            let mut func = ptr::null_mut();
            let mut args = [ptr::null_mut(); 2];
            // make_callback wants an object receiver; listeners never see it.
            let mut recv = ptr::null_mut();
            let ok = sys::napi_get_reference_value(env, self.func, &mut func)
                == sys::Status::napi_ok
                && !func.is_null()
                && sys::napi_create_uint32(env, kind, &mut args[0]) == sys::Status::napi_ok
                && sys::napi_create_string_utf8(
                    env,
                    payload.as_ptr().cast(),
                    payload.len() as isize,
                    &mut args[1],
                ) == sys::Status::napi_ok
                && sys::napi_get_global(env, &mut recv) == sys::Status::napi_ok;
            if ok {
                let mut result = ptr::null_mut();
                let status = sys::napi_make_callback(
                    env,
                    self.ctx,
                    recv,
                    func,
                    2,
                    args.as_ptr(),
                    &mut result,
                );
                if status == sys::Status::napi_pending_exception {
                    let mut exc = ptr::null_mut();
                    sys::napi_get_and_clear_last_exception(env, &mut exc);
                    sys::napi_fatal_exception(env, exc);
                }
            }
            sys::napi_close_handle_scope(env, scope);
        }
    }
}

impl Drop for JsTarget {
    fn drop(&mut self) {
        // SAFETY: dropped on the JS thread (the thread-safe function's finalizer or a libuv
        // close callback), while the environment is alive.
        unsafe {
            sys::napi_async_destroy(self.env, self.ctx);
            sys::napi_delete_reference(self.env, self.func);
        }
    }
}

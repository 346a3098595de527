/** The console's screens and their URLs (each shareable: `/orders/42`). */
import { Navigate, Route, Routes } from "react-router";
import { Shell } from "./components/Shell";
import { AuditPage } from "./routes/audit/AuditPage";
import { CataloguePage } from "./routes/catalogue/CataloguePage";
import { ConnectionPage } from "./routes/connections/ConnectionPage";
import { ConnectionsPage } from "./routes/connections/ConnectionsPage";
import { DashboardPage } from "./routes/dashboard/DashboardPage";
import { DeliveriesPage } from "./routes/deliveries/DeliveriesPage";
import { DeliveryPage } from "./routes/deliveries/DeliveryPage";
import { LoginPage } from "./routes/login/LoginPage";
import { NewOrderPage } from "./routes/orders/NewOrderPage";
import { OrderPage } from "./routes/orders/OrderPage";
import { OrdersPage } from "./routes/orders/OrdersPage";
import { PluginPage, PluginsPage } from "./routes/plugins/PluginsPage";
import { RunsPage } from "./routes/runs/RunsPage";
import { ServicePage } from "./routes/services/ServicePage";
import { ServicesPage } from "./routes/services/ServicesPage";
import { AccountPage } from "./routes/account/AccountPage";
import { UserPage } from "./routes/users/UserPage";
import { NewUserPage, UsersPage } from "./routes/users/UsersPage";
import { Suspense, lazy } from "react";
import { Loading } from "./components/States";

// The builder (React Flow, ELK) is loaded when first opened, not with every screen.
const BuilderPage = lazy(() => import("./routes/builder/BuilderPage").then((m) => ({ default: m.BuilderPage })));
const VersionsPage = lazy(() => import("./routes/builder/VersionsPage").then((m) => ({ default: m.VersionsPage })));
const later = (page: React.ReactNode) => <Suspense fallback={<Loading />}>{page}</Suspense>;
import { RequireSession } from "./session/session";
import { Empty } from "./components/States";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireSession>
            <Shell />
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="/dashboard" replace />} />
        <Route path="dashboard" element={<DashboardPage />} />
        <Route path="orders" element={<OrdersPage />} />
        <Route path="orders/new" element={<NewOrderPage />} />
        <Route path="orders/:orderId" element={<OrderPage />} />
        <Route path="services" element={<ServicesPage />} />
        <Route path="services/:serviceId" element={<ServicePage />} />
        <Route path="runs" element={<RunsPage />} />
        <Route path="deliveries" element={<DeliveriesPage />} />
        <Route path="deliveries/:deliveryId" element={<DeliveryPage />} />
        <Route path="connections" element={<ConnectionsPage />} />
        <Route path="connections/new" element={<ConnectionPage />} />
        <Route path="connections/:name" element={<ConnectionPage />} />
        <Route path="plugins" element={<PluginsPage />} />
        <Route path="plugins/:slug" element={<PluginPage />} />
        <Route path="catalogue/*" element={<CataloguePage />} />
        <Route path="builder" element={<Navigate to="/plugins/new/edit" replace />} />
        <Route path="plugins/new/edit" element={later(<BuilderPage />)} />
        <Route path="plugins/:slug/edit" element={later(<BuilderPage />)} />
        <Route path="plugins/:slug/versions" element={later(<VersionsPage />)} />
        <Route path="users" element={<UsersPage />} />
        <Route path="users/new" element={<NewUserPage />} />
        <Route path="users/:userId" element={<UserPage />} />
        <Route path="account" element={<AccountPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route path="*" element={<Empty>No such page.</Empty>} />
      </Route>
    </Routes>
  );
}
